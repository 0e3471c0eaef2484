-- The specs' redis-server helper: a server that lost its port to another is
-- never handed out (redis-server --daemonize returns 0 before binding, and
-- the other server answers PING on that port).
local RS = require "spec.helpers.redis_server"

describe("spec helper redis_server", function()
  it("refuses a port another server holds", function()
    local a = RS.start()
    finally(function() a:stop() end)
    local ok, err = pcall(RS.start, { port = a.port })
    assert.is_false(ok)
    assert.matches("could not start redis%-server", err)
  end)

  it("hands out distinct servers to back-to-back starts", function()
    local a, b = RS.start(), RS.start()
    finally(function() a:stop() b:stop() end)
    assert.are_not.equal(a.port, b.port)
    a:cli("SET who a")
    assert.equal("", (b:cli("GET who"):gsub("%s+$", "")))
  end)
end)
