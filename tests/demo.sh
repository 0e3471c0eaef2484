#!/bin/sh
# The demo: a private redis-server on a non-default port in a scratch
# directory, scanhost's function library loaded, a demo workload seeded, and
# scanhost in the foreground with readable logs. Ctrl-C stops both.
set -eu
cd "$(dirname "$0")/.."
PORT=${DEMO_PORT:-6391}
DIR=$(mktemp -d /tmp/scanhost-demo.XXXXXX)
REDIS_PID=""

cleanup() {
  # by pid, never by port: the port may belong to another server (refused below)
  if [ -n "$REDIS_PID" ]; then
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
  fi
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

if redis-cli -p "$PORT" ping >/dev/null 2>&1; then
  echo "demo: port $PORT is in use; choose another with DEMO_PORT=..."
  exit 1
fi
# setsid: Ctrl-C reaches scanhost, which stops first; the trap then stops Redis.
setsid redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --save '' --appendonly no \
  --logfile "$DIR/redis.log" &
REDIS_PID=$!
i=0
until redis-cli -p "$PORT" ping >/dev/null 2>&1; do
  # ours exited (port taken?): never seed another server that answers there
  kill -0 "$REDIS_PID" 2>/dev/null || { echo "redis-server exited:"; tail -3 "$DIR/redis.log"; exit 1; }
  i=$((i + 1))
  [ "$i" -lt 100 ] || { echo "redis-server did not start on port $PORT"; exit 1; }
  sleep 0.05
done
echo "demo: redis-server on 127.0.0.1:$PORT in $DIR"
luajit tests/demo_seed.lua "$PORT" "${DEMO_ITEMS:-40}"
echo "demo: starting scanhost (Ctrl-C to stop)"
./bin/scanhost --redis "redis://127.0.0.1:$PORT" "$@" || true
