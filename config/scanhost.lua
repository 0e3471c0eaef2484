-- scanhost configuration: a Lua file returning a table. Every key is
-- optional; the values below are the built-in defaults. Precedence:
-- built-in defaults < this file < environment (SCANHOST_REDIS) < command line.
return {
  redis = "redis://127.0.0.1:6379",  -- or "unix:///path/to/redis.sock"
  partitions = 256,                  -- flow/execution partitions ({fp:N})
  budget_partitions = 32,            -- {b:N}
  quota_partitions = 32,             -- {q:N}
  lanes = { "default" },             -- lanes scanned by lane-scoped scanners
  command_timeout = 5,               -- seconds before a Redis command fails
  connect_timeout = 5,               -- seconds per connection attempt
  shutdown_timeout = 1.5,            -- seconds in-flight work may take at SIGTERM
  claims = true,                     -- claim partitions: several instances may share them
  log_level = "info",                -- error | warn | info | debug
  log_format = "text",               -- text (logfmt) | json
  -- Per-scanner overrides: enabled, interval (seconds), batch and the
  -- scanner's own options (see each script's `defaults`).
  scanners = {
    -- lease_expiry = { interval = 1.5, batch = 50 },
    -- index_reconciler = { enabled = false },
  },
}
