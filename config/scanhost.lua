-- scanhost configuration: a Lua file returning a table. Every key is
-- optional; the values below are the built-in defaults. Precedence:
-- built-in defaults < this file < environment (SCANHOST_REDIS) < command line.
return {
  redis = "redis://127.0.0.1:6379",  -- or "unix:///path/to/redis.sock"; a cluster's
                                     -- seed nodes as a list: { "redis://a:7000", ... }
  partitions = 256,                  -- flow/execution partitions ({fp:N})
  budget_partitions = 32,            -- {b:N}
  quota_partitions = 32,             -- {q:N}
  lanes = { "default" },             -- lanes scanned by lane-scoped scanners
  command_timeout = 5,               -- seconds before a Redis command fails
  connect_timeout = 5,               -- seconds per connection attempt
  shutdown_timeout = 1.5,            -- seconds in-flight work may take at SIGTERM
  claims = true,                     -- claim partitions: several instances may share them
  -- library_level = 34,             -- our own library's contract: 5 (FlowFabric 0.1.1) | 34
  scan_timeout = 5,                  -- seconds a scanner may run without yielding
  lua_memory_mb = 256,               -- Lua memory per scanner; over it, it is stopped
  log_level = "info",                -- error | warn | info | debug
  log_format = "text",               -- text (logfmt) | json
  -- scanners_dir = { "/opt/scanhost/scanners", "/etc/scanhost/scanners.d" },  -- one or a list
  -- Per-scanner overrides: enabled, interval (seconds), batch and the
  -- scanner's own options (see each script's `defaults` and `bounds`).
  -- A name no scanner has, an unknown option or a value out of bounds is
  -- refused (exit 2; at SIGHUP the running config stays).
  scanners = {
    -- lease_expiry = { interval = 1.5, batch = 50 },
    -- index_reconciler = { enabled = false },
  },
}
