-- ff.json: policy reading.
local budget = require "ff.budget"
local json = require "ff.json"
local zwalk = require "ff.zwalk"
local sscan = require "ff.sscan"

describe("ff.json", function()
  it("decodes nested documents and keeps integer literals apart", function()
    local doc = assert(json.decode('{"stream_policy":{"retention_ttl_ms":1000,"f":1.5,' ..
      '"e":1e3,"s":"1000","n":null,"a":[true,false,"x\\"y"]}}'))
    local sp = doc.stream_policy
    assert.equal(1000, json.uint(sp.retention_ttl_ms))
    assert.is_nil(json.uint(sp.f))
    assert.is_nil(json.uint(sp.e))
    assert.is_nil(json.uint(sp.s))
    assert.equal(json.null, sp.n)
    assert.same({ true, false, 'x"y' }, sp.a)
    assert.is_nil(json.uint(assert(json.decode("-5"))))
  end)

  it("rejects malformed text", function()
    for _, bad in ipairs({ "", "{", '{"a":}', "[1,]", "{} x", "nope" }) do
      assert.is_nil(json.decode(bad), bad)
    end
  end)
end)
