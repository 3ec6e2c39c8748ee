#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests: its own data directory under
# /tmp, listening on 127.0.0.1:PORT only, no password (trust on loopback).
#
#   scripts/services/postgres.sh PORT [WATCH_PID]
#
# Prints `POSTGRES_READY postgres://portcullis@127.0.0.1:PORT/postgres` once
# it accepts connections. Stops the server and deletes the data directory on
# SIGTERM/SIGINT, or when WATCH_PID (e.g. the test process) has exited.
set -euo pipefail

port=${1:?usage: $0 PORT [WATCH_PID]}
watch=${2:-}

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  bin=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
fi
[ -x "$bin/initdb" ] || { echo "postgres.sh: PostgreSQL server binaries not found: run 'make bootstrap' (Debian package postgresql)" >&2; exit 1; }

dir=$(mktemp -d /tmp/portcullis-pg.XXXXXX)
# PostgreSQL refuses to run as root: as root, the cluster belongs to the
# `postgres` user the Debian package creates.
as_owner=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
  as_owner=(runuser -u postgres --)
fi

cleanup() {
  trap - EXIT INT TERM
  if [ -n "${server:-}" ]; then
    # Fast shutdown: open test connections must not keep it alive.
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" stop -m fast -s >/dev/null 2>&1 \
      || kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U portcullis -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }

"${as_owner[@]}" "$bin/postgres" -D "$dir/data" -h 127.0.0.1 -p "$port" -k "$dir" \
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
  -c max_connections=200 -c logging_collector=off >"$dir/server.log" 2>&1 &
server=$!

for _ in $(seq 1 100); do
  if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
    echo "POSTGRES_READY postgres://portcullis@127.0.0.1:$port/postgres"
    break
  fi
  kill -0 "$server" 2>/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  sleep 0.1
done
"$bin/pg_isready" -q -h 127.0.0.1 -p "$port" || { echo "postgres.sh: server did not start" >&2; cat "$dir/server.log" >&2; exit 1; }

while kill -0 "$server" 2>/dev/null; do
  if [ -n "$watch" ] && ! kill -0 "$watch" 2>/dev/null; then break; fi
  sleep 0.5
done
