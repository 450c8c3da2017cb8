#!/usr/bin/env bash
# Runs a command with a throw-away real redis-server, installing redis-server
# first when it is missing. The server listens on a free loopback port with
# its files in a temporary directory, its URL is exported as
# DISPATCHER_TEST_REDIS_URL, and it is stopped when the command ends.
#
#   scripts/with-redis.sh go test ./...
set -euo pipefail

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "with-redis: redis-server is missing; installing it (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq redis-server >/dev/null
  else
    echo "with-redis: redis-server is missing. Install it (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis) and run again." >&2
    exit 1
  fi
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/dispatcher-redis.XXXXXX")
cleanup() {
  if [ -f "$dir/redis.pid" ]; then
    pid=$(cat "$dir/redis.pid")
    kill "$pid" 2>/dev/null || true
    # wait (up to 5 s) for it to exit: it writes into $dir while it stops,
    # and rm -rf racing it fails with "Directory not empty"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
# A loopback port that is free: try random ones until redis-server binds.
port=""
for _ in $(seq 1 20); do
  try=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-): no listener on port 0 can take it meanwhile
  rm -f "$dir/redis.pid"
  redis-server --port "$try" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null || continue
  for _ in $(seq 1 100); do
    # ours, not another server already on that port: it runs in our dir
    if [ "$(redis-cli -p "$try" config get dir 2>/dev/null | tail -n 1)" = "$dir" ]; then port=$try; break; fi
    sleep 0.05
  done
  [ -n "$port" ] && break
done
if [ -z "$port" ]; then
  echo "with-redis: could not start redis-server on a free port; its log:" >&2
  cat "$dir/redis.log" >&2 || true
  exit 1
fi
echo "with-redis: $(redis-server --version | cut -d' ' -f1-3) on 127.0.0.1:$port (tests use a real redis-server)" >&2
export DISPATCHER_TEST_REDIS_URL="redis://127.0.0.1:$port"
export DISPATCHER_REQUIRE_REDIS=1
"$@"
