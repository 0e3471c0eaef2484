-- ff.exec_fcall builds the KEYS lists of spec 10 §A in the exact 0.1.1 order,
-- with the real worker-lease set and placeholders instead of malformed names.
local X = require "ff.exec_fcall"

describe("ff.exec_fcall", function()
  local T, E, W = "{fp:5}", "{fp:5}:00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-0000000000aa"
  local X1 = "ff:exec:{fp:5}:" .. E

  it("mark_lease_expired_keys (A.1)", function()
    assert.same({ X1 .. ":core", X1 .. ":lease:current", "ff:idx:{fp:5}:lease_expiry", X1 .. ":lease:history" },
      X.mark_lease_expired_keys(T, E))
  end)

  it("promote_delayed_keys (A.2)", function()
    assert.same({ X1 .. ":core", "ff:idx:{fp:5}:lane:blue:delayed", "ff:idx:{fp:5}:lane:blue:eligible" },
      X.promote_delayed_keys(T, E, "blue"))
  end)

  it("partition-level keys follow the tag and lane of every call (built once per page)", function()
    local E9 = "{fp:9}:00000000-0000-4000-8000-000000000002"
    for _, c in ipairs({ { T, E, "blue" }, { T, E, "red" }, { "{fp:9}", E9, "red" }, { T, E, "blue" } }) do
      local tag, eid, lane = c[1], c[2], c[3]
      local x = "ff:exec:" .. tag .. ":" .. eid
      assert.same({ x .. ":core", "ff:idx:" .. tag .. ":lane:" .. lane .. ":delayed",
        "ff:idx:" .. tag .. ":lane:" .. lane .. ":eligible" }, X.promote_delayed_keys(tag, eid, lane))
      assert.equal("ff:idx:" .. tag .. ":lease_expiry", X.mark_lease_expired_keys(tag, eid)[3])
    end
  end)

  it("expire_execution_keys (A.3) with the real worker-lease set", function()
    assert.same({
      X1 .. ":core", "ff:attempt:{fp:5}:" .. E .. ":0", "ff:stream:{fp:5}:" .. E .. ":0:meta",
      X1 .. ":lease:current", X1 .. ":lease:history", "ff:idx:{fp:5}:lease_expiry",
      "ff:idx:{fp:5}:worker:wi1:leases", "ff:idx:{fp:5}:lane:default:active",
      "ff:idx:{fp:5}:lane:default:terminal", "ff:idx:{fp:5}:attempt_timeout",
      "ff:idx:{fp:5}:execution_deadline", "ff:idx:{fp:5}:lane:default:suspended",
      "ff:idx:{fp:5}:suspension_timeout", X1 .. ":suspension:current",
    }, X.expire_execution_keys(T, E, { lane = "default", ai = "0", wiid = "wi1" }))
  end)

  it("expire_execution_keys never builds malformed names from empty values", function()
    local k = X.expire_execution_keys(T, E, { lane = X.lane("", ""), ai = "", wiid = "" })
    assert.equal("ff:noop:{fp:5}", k[2])
    assert.equal("ff:noop:{fp:5}", k[3])
    assert.equal("ff:noop:{fp:5}", k[7])
    assert.equal("ff:idx:{fp:5}:lane:default:active", k[8])
    for _, key in ipairs(k) do
      assert.is_nil(key:find("::", 1, true), key)
      assert.is_nil(key:find(":$"), key)
    end
  end)

  it("lane falls back lane_id -> current_lane -> default", function()
    assert.equal("a", X.lane("a", "b"))
    assert.equal("b", X.lane("", "b"))
    assert.equal("b", X.lane(nil, "b"))
    assert.equal("default", X.lane("", false))
  end)

  it("expire_suspension_keys (A.5)", function()
    assert.same({
      X1 .. ":core", X1 .. ":suspension:current", "ff:wp:{fp:5}:" .. W, "ff:wp:{fp:5}:" .. W .. ":condition",
      "ff:attempt:{fp:5}:" .. E .. ":0", "ff:stream:{fp:5}:" .. E .. ":0:meta",
      "ff:idx:{fp:5}:suspension_timeout", "ff:idx:{fp:5}:lane:default:suspended",
      "ff:idx:{fp:5}:lane:default:terminal", "ff:idx:{fp:5}:lane:default:eligible",
      "ff:idx:{fp:5}:lane:default:delayed", X1 .. ":lease:history",
    }, X.expire_suspension_keys(T, E, { lane = "default", ai = "0", wp = W }))
    local k = X.expire_suspension_keys(T, E, { lane = "default", ai = "", wp = "" })
    assert.same({ "ff:noop:{fp:5}", "ff:noop:{fp:5}", "ff:noop:{fp:5}", "ff:noop:{fp:5}" },
      { k[3], k[4], k[5], k[6] })
  end)

  it("close_waitpoint_keys (A.6)", function()
    assert.same({ X1 .. ":core", "ff:wp:{fp:5}:" .. W, "ff:idx:{fp:5}:pending_waitpoint_expiry" },
      X.close_waitpoint_keys(T, W, E))
    assert.equal("ff:noop:{fp:5}", X.close_waitpoint_keys(T, W, false)[1])
  end)
end)
