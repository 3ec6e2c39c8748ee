#!/usr/bin/env bash
# A throwaway Redis for tests: its own directory under /tmp, listening on
# 127.0.0.1:PORT only, with append-only persistence (so a restart keeps
# what was written).
#
#   scripts/services/redis.sh PORT [WATCH_PID] [DIR]
#
# Prints `REDIS_READY redis://127.0.0.1:PORT` once it answers. Stops the
# server (and deletes the directory, unless DIR was given) on SIGTERM/SIGINT
# or when WATCH_PID has exited.
set -euo pipefail

port=${1:?usage: $0 PORT [WATCH_PID] [DIR]}
watch=${2:-}
dir=${3:-}
keep=yes
if [ -z "$dir" ]; then
  dir=$(mktemp -d /tmp/portcullis-redis.XXXXXX)
  keep=no
fi
mkdir -p "$dir"
command -v redis-server >/dev/null || { echo "redis.sh: redis-server not found: run 'make bootstrap' (Debian package redis-server)" >&2; exit 1; }

cleanup() {
  trap - EXIT INT TERM
  if [ -n "${server:-}" ]; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  [ "$keep" = yes ] || rm -rf "$dir"
}
trap cleanup EXIT INT TERM

redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --appendonly yes \
  --appendfsync everysec --save "" --daemonize no --protected-mode yes \
  --logfile "$dir/redis.log" &
server=$!

for _ in $(seq 100); do
  if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
    echo "REDIS_READY redis://127.0.0.1:$port"
    break
  fi
  kill -0 "$server" 2>/dev/null || { cat "$dir/redis.log" >&2; exit 1; }
  sleep 0.05
done

while kill -0 "$server" 2>/dev/null; do
  if [ -n "$watch" ] && ! kill -0 "$watch" 2>/dev/null; then break; fi
  sleep 0.5
done
