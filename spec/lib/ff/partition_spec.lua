-- ff.partition against the worked examples of spec 00-model §1.7.
local P = require "ff.partition"

describe("ff.partition", function()
  it("crc16 is CRC-16/XMODEM (check value 0x31C3)", function()
    assert.equal(0x31C3, P.crc16("123456789"))
    assert.equal(0, P.crc16(""))
  end)

  it("uuid_bytes decodes the 32 hex digits, not the text", function()
    local b = assert(P.uuid_bytes("550e8400-e29b-41d4-a716-446655440000"))
    assert.equal(16, #b)
    assert.equal(string.char(0x55, 0x0e, 0x84, 0x00, 0xe2, 0x9b, 0x41, 0xd4,
      0xa7, 0x16, 0x44, 0x66, 0x55, 0x44, 0x00, 0x00), b)
    assert.equal(string.rep("\34", 16), P.uuid_bytes("22222222-2222-2222-2222-222222222222"))
    assert.is_nil(P.uuid_bytes("not-a-uuid"))
    assert.is_nil(P.uuid_bytes("550e8400e29b41d4a716446655440000x"))
  end)

  it("is_uuid accepts exactly what uuid_bytes decodes", function()
    for _, text in ipairs({ "550e8400-e29b-41d4-a716-446655440000", "550e8400e29b41d4a716446655440000",
      "550e8400-e29b-41d4-a716-44665544000", "550e8400-e29b-41d4-a716-4466554400000",
      "550e8400--e29b41d4-a716-446655440000", "g50e8400-e29b-41d4-a716-446655440000",
      "550e8400e29b41d4a716446655440000x", "", string.rep("-", 36), "550e8400e29b41d4a71644665544000g",
      "-550e8400-e29b-41d4-a716-44665544000", "550e8400-e29b-41d4-a716-446655440000\n", "not-a-uuid" }) do
      assert.equal(P.uuid_bytes(text) ~= nil, P.is_uuid(text), text)
    end
    assert.is_false(P.is_uuid(nil))
  end)

  it("maps the worked examples of §1.7", function()
    assert.equal(0x9018, P.crc16(P.uuid_bytes("550e8400-e29b-41d4-a716-446655440000")))
    assert.equal(24, P.flow_partition("550e8400-e29b-41d4-a716-446655440000", 256))
    assert.equal(0xA00C, P.crc16(P.uuid_bytes("22222222-2222-2222-2222-222222222222")))
    assert.equal(12, P.flow_partition("22222222-2222-2222-2222-222222222222", 256))
    assert.equal(0xD656, P.crc16("default"))
    assert.equal(86, P.solo_partition("default", 256))
    assert.equal(0x2EC1, P.crc16("workers-a"))
    assert.equal(193, P.solo_partition("workers-a", 256))
    assert.equal(24, P.budget_partition("550e8400-e29b-41d4-a716-446655440000", 32))
    assert.equal(0x5006, P.crc16(P.uuid_bytes("11111111-1111-1111-1111-111111111111")))
    assert.equal(6, P.quota_partition("11111111-1111-1111-1111-111111111111", 32))
    assert.equal(42, P.parse_execution_id("{fp:42}:550e8400-e29b-41d4-a716-446655440000"))
  end)

  it("does not hash the 36-character text (pitfall: that gives 0xA206 -> 6)", function()
    assert.equal(0xA206, P.crc16("550e8400-e29b-41d4-a716-446655440000"))
    assert.not_equal(6, P.flow_partition("550e8400-e29b-41d4-a716-446655440000", 256))
  end)

  it("parse_execution_id follows §1.5", function()
    assert.equal(0, P.parse_execution_id("{fp:0}:00000000-0000-4000-8000-000000000001"))
    assert.equal(65535, P.parse_execution_id("{fp:65535}:00000000-0000-4000-8000-000000000001"))
    assert.is_nil(P.parse_execution_id("{fp:65536}:00000000-0000-4000-8000-000000000001"))
    assert.is_nil(P.parse_execution_id("550e8400-e29b-41d4-a716-446655440000"))
    assert.is_nil(P.parse_execution_id("{b:1}:550e8400-e29b-41d4-a716-446655440000"))
    assert.is_nil(P.parse_execution_id("{fp:1}550e8400-e29b-41d4-a716-446655440000"))
    assert.is_nil(P.parse_execution_id("{fp:x}:550e8400-e29b-41d4-a716-446655440000"))
    assert.is_nil(P.parse_execution_id("{fp:1}:not-a-uuid"))
    assert.is_nil(P.parse_execution_id(nil))
    assert.equal(7, P.parse_execution_id("{fp:007}:550e8400-e29b-41d4-a716-446655440000"))
    assert.equal(3, P.parse_execution_id("{fp:+3}:550e8400-e29b-41d4-a716-446655440000"))
    assert.equal(3, P.parse_execution_id("{fp:3}:550e8400e29b41d4a716446655440000"))
    assert.is_nil(P.parse_execution_id("{fp:}:550e8400-e29b-41d4-a716-446655440000"))
    assert.is_nil(P.parse_execution_id("{fp:1}x}:550e8400-e29b-41d4-a716-446655440000"))
    assert.is_nil(P.parse_execution_id("{fp:1}:x}:550e8400-e29b-41d4-a716-446655440000"))
    assert.is_nil(P.parse_execution_id("{fp:1}:550e8400-e29b-41d4-a716-446655440000\n"))
  end)

  it("builds tags per family", function()
    assert.equal("{fp:24}", P.tag("flow", 24))
    assert.equal("{fp:0}", P.tag("execution", 0))
    assert.equal("{b:31}", P.tag("budget", 31))
    assert.equal("{q:7}", P.tag("quota", 7))
    assert.has_error(function() P.tag("nope", 1) end)
  end)

  it("rejects a zero partition count", function()
    assert.has_error(function() P.flow_partition("550e8400-e29b-41d4-a716-446655440000", 0) end)
    assert.has_error(function() P.solo_partition("default", 0) end)
  end)
end)
