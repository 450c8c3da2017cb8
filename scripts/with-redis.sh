#!/usr/bin/env bash
# Runs a command with a throw-away real redis-server, installing redis-server
# first when it is missing. The server listens on a unix socket in a
# temporary directory (no port to collide with), its URL is exported as
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
sock="$dir/redis.sock"
redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$dir" \
  --save "" --appendonly no --daemonize yes --pidfile "$dir/redis.pid" \
  --logfile "$dir/redis.log" >/dev/null
cleanup() {
  if [ -f "$dir/redis.pid" ]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  [ -S "$sock" ] && redis-cli -s "$sock" ping >/dev/null 2>&1 && break
  sleep 0.05
done
redis-cli -s "$sock" ping >/dev/null
echo "with-redis: $(redis-server --version | cut -d' ' -f1-3) on unix socket (tests use a real redis-server)" >&2
export DISPATCHER_TEST_REDIS_URL="unix://$sock"
export DISPATCHER_REQUIRE_REDIS=1
"$@"
