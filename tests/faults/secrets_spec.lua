-- Case 9: the Redis password never appears in logs, errors or --check
-- output, on success and on every error path (bad URL, unreachable server,
-- wrong password, a server that kicks clients, JSON logs, debug level); a
-- wrong password is a clear error: exit 1 for --once, a line per reconnect
-- attempt for the daemon, which gets in once the password is right again.
local FX = require "tests.faults.helpers.fx"
local P = FX.P

local SECRET = "Zq9-s3cr3t-pw"
local COUNTER = [[
return { name = "counter", family = "execution", interval = 0.1,
  scan = function(ctx, p) local ok = ctx.redis:call("INCR", "secrets:n") return ok and 1 or 0, ok and 0 or 1 end }
]]

describe("fault 9: secrets", function()
  local srv, dir, proc
  local seen = {} -- every output inspected, for the final figure

  before_each(function()
    srv = FX.RS.start({ password = SECRET })
    dir = P.tmpdir()
    P.write(dir .. "/counter.lua", COUNTER)
  end)

  after_each(function()
    FX.finish("secrets", proc, srv, dir)
    proc = nil
  end)

  local function clean(out, what)
    seen[#seen + 1] = what
    assert.is_nil(out:find(SECRET, 1, true), what .. " leaked the password:\n" .. out)
    -- no fragment of it either (e.g. a truncated or partially redacted copy)
    assert.is_nil(out:find(SECRET:sub(1, 8), 1, true), what .. " leaked part of the password")
    assert.is_nil(out:find(SECRET:sub(-8), 1, true), what .. " leaked part of the password")
  end

  it("is absent from every output; a wrong password is exit 1 with a clear error", function()
    local url = ("redis://:%s@127.0.0.1:%d"):format(SECRET, srv.port)
    local base = ("--scanners %s --partitions 2 --log-level debug"):format(dir)
    -- success paths: --once (text and json), --check, daemon
    local rc, out = P.run(("--once %s --redis %s"):format(base, url))
    assert.are.equal(0, rc); clean(out, "--once")
    rc, out = P.run(("--once %s --log-format json --redis %s"):format(base, url))
    assert.are.equal(0, rc); clean(out, "--once json")
    rc, out = P.run(("--check %s --redis %s"):format(base, url))
    assert.are.equal(0, rc); clean(out, "--check")
    rc, out = P.run(("--check %s"):format(base), "SCANHOST_REDIS=" .. url)
    assert.are.equal(0, rc); clean(out, "--check (env)")
    -- config file holding the URL
    local conf = FX.config(dir, ("redis = %q, partitions = 0,"):format(url))
    rc, out = P.run(("--check -c %s --scanners %s"):format(conf, dir))
    assert.are.equal(2, rc); clean(out, "--check bad config")
    -- wrong password: clear error, exit 1, neither password printed
    local wrong = ("redis://:%s@127.0.0.1:%d"):format("Wr0ng-" .. SECRET, srv.port)
    rc, out = P.run(("--once %s --redis %s"):format(base, wrong))
    assert.are.equal(1, rc); clean(out, "wrong password --once")
    assert.truthy(out:find("refused our credentials", 1, true))
    -- the daemon keeps retrying (one line per backoff step) until SIGTERM
    proc = P.start(dir, ("%s --redis %s"):format(base, wrong))
    assert.truthy(proc:wait_log("refused our credentials", 5))
    assert.are.equal(0, FX.term(proc, 10)); clean(proc:output(), "wrong password daemon")
    proc = nil
    -- ACL user with a wrong password
    rc, out = P.run(("--once %s --redis redis://default:%s@127.0.0.1:%d"):format(base, "X" .. SECRET, srv.port))
    assert.are.equal(1, rc); clean(out, "wrong ACL password")
    -- bad URLs carrying the password: usage error 2, redacted
    for _, bad in ipairs({
      ("redis://:%s@127.0.0.1:notaport"):format(SECRET),
      ("redis://:%s@:6379"):format(SECRET),
      ("redis://:%s@127.0.0.1:6379/x"):format(SECRET),
      ("http://:%s@127.0.0.1:6379"):format(SECRET),
      ("redis://:%s%s@127.0.0.1:6379"):format(SECRET, ("p"):rep(300)),
    }) do
      rc, out = P.run(("--check %s --redis '%s'"):format(base, bad))
      assert.are.equal(2, rc, out); clean(out, "bad URL " .. bad:sub(1, 12))
      rc, out = P.run(("--check %s"):format(base), ("SCANHOST_REDIS='%s'"):format(bad))
      assert.are.equal(2, rc, out); clean(out, "bad URL (env)")
    end
    -- unreachable server
    rc, out = P.run(("--once %s --redis redis://:%s@127.0.0.1:1"):format(base, SECRET))
    assert.are.equal(1, rc); clean(out, "unreachable")
    -- a server that kicks clients while scanhost runs
    proc = P.start(dir, ("%s --redis %s"):format(base, url))
    assert.truthy(proc:wait_log("connected to redis at", 5))
    for _ = 1, 3 do
      srv:cli("CLIENT KILL TYPE normal")
      P.sleep(0.3)
    end
    srv:cli("CONFIG SET requirepass Other-" .. SECRET) -- the password changes under it
    srv.password = "Other-" .. SECRET
    srv:cli("CLIENT KILL TYPE normal")
    assert.truthy(proc:wait_log("refused our credentials", 10), "the refusal was not reported")
    local connects = proc:count("connected to redis at")
    assert.truthy(connects >= 2)
    srv:cli("CONFIG SET requirepass " .. SECRET) -- and back: the daemon gets in again
    srv.password = SECRET
    assert.truthy(P.wait_for(function() return proc:count("connected to redis at") > connects end, 15),
      "no reconnect after the password was restored")
    assert.are.equal(0, FX.term(proc, 10))
    clean(proc:output(), "kicked daemon")
    print(("# fault 9: %d outputs checked, password found 0 times"):format(#seen))
  end)
end)
