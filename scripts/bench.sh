#!/usr/bin/env bash
# `make bench`: measures Portcullis on this machine and writes
# bench/results.md (not part of `make test`). Timings are reported as
# ratios to a baseline measured in the same run, because shared machines
# are noisy. Needs wrk, brotli and sqlite3 (Debian packages; installed
# when root), PostgreSQL and Redis (the test bootstrap installs them).
#
#   BENCH_SECONDS   duration of each load test (default 10)
#   BENCH_SESSIONS  sessions for the memory measure (default 100000)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
seconds=${BENCH_SECONDS:-10}
sessions=${BENCH_SESSIONS:-100000}
scripts/bootstrap.sh test
for tool in wrk brotli sqlite3; do
  if ! command -v "$tool" >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
    else
      echo "bench: $tool is missing (sudo apt-get install $tool)" >&2
      exit 1
    fi
  fi
done

# free_port, target_dir, start_server
. scripts/lib/release-server.sh
say() { printf '\033[1mbench:\033[0m %s\n' "$*"; }
json_field() { # JSON PATH: prints JSON.PATH
  node -e 'let v=JSON.parse(process.argv[1]);for(const k of process.argv[2].split("."))v=v[k];console.log(v)' "$1" "$2"
}

say "building the release site, server and session seeder (the first time takes a while)"
export LEPTOS_OUTPUT_NAME=portcullis
cargo leptos build --release >/dev/null 2>&1 || cargo leptos build --release
cargo build --release -p portcullis --features testing --example seed_sessions >/dev/null 2>&1 \
  || cargo build --release -p portcullis --features testing --example seed_sessions
cargo build --release -p portcullis --example bare_axum >/dev/null 2>&1 \
  || cargo build --release -p portcullis --example bare_axum
target_dir=$(target_dir)
binary="$target_dir/release/server"
seeder="$target_dir/release/examples/seed_sessions"
bare="$target_dir/release/examples/bare_axum"
pkg="$root/target/site/pkg"

work=$(mktemp -d /tmp/portcullis-bench.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# --- the parts: PostgreSQL, Redis, the local identity provider, a fast one
say "starting PostgreSQL, Redis and the identity providers"
scripts/services/postgres.sh "$(free_port)" $$ >"$work/pg.out" 2>"$work/pg.log" &
pids+=($!)
scripts/services/redis.sh "$(free_port)" $$ >"$work/redis.out" 2>"$work/redis.log" &
pids+=($!)
for _ in $(seq 300); do
  grep -q POSTGRES_READY "$work/pg.out" 2>/dev/null && grep -q REDIS_READY "$work/redis.out" 2>/dev/null && break
  sleep 0.1
done
pg=$(sed -n 's/^POSTGRES_READY //p' "$work/pg.out")
redis=$(sed -n 's/^REDIS_READY //p' "$work/redis.out")
[ -n "$pg" ] && [ -n "$redis" ] || { cat "$work/pg.log" "$work/redis.log" >&2; echo "bench: PostgreSQL or Redis did not start" >&2; exit 1; }
pg_database() { # NAME: a fresh database on the cluster; its URL
  psql -q "$pg" -c "CREATE DATABASE $1" >/dev/null
  echo "${pg%/postgres}/$1"
}

app_port=$(free_port)
app_url="http://127.0.0.1:$app_port"
ttl=8
IDP_PORT=0 IDP_REDIRECT_URIS="$app_url/auth/callback/local" IDP_ACCESS_TOKEN_TTL=$ttl \
IDP_CANARY_FILE="$work/issued.txt" \
IDP_POST_LOGOUT_REDIRECT_URIS="$app_url/auth/logged-out" IDP_BACKCHANNEL_LOGOUT_URI= \
IDP_READY_FILE="$work/idp.json" node end2end/identity-provider/server.mjs >/dev/null 2>"$work/idp.log" &
pids+=($!)
# The fast provider's access tokens live 30 s: long enough for 1,000
# sign-ins, short enough to wait for all of them to expire.
fast_ttl=30
FAST_ACCESS_TTL=$fast_ttl node bench/fast-provider.mjs >"$work/fast.out" 2>"$work/fast.log" &
pids+=($!)
for _ in $(seq 100); do
  [ -s "$work/idp.json" ] && grep -q FAST_IDP_READY "$work/fast.out" 2>/dev/null && break
  sleep 0.1
done
issuer=$(node -p "require('$work/idp.json').issuer")
fast_issuer=$(json_field "$(sed -n 's/^FAST_IDP_READY //p' "$work/fast.out")" issuer)
fast_vars=(AUTH_PROVIDERS=fast FAST_ISSUER="$fast_issuer" FAST_CLIENT_ID=bench FAST_CLIENT_SECRET=bench-secret)
keys="bench:$(head -c 32 /dev/urandom | base64)"

fast_sign_in() { # APP_URL: a session cookie from a sign-in at the fast provider
  node --input-type=module -e 'import { signIn } from "./bench/fast-login.mjs"; console.log(await signIn(process.argv[1]));' "$1"
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# wrk's summary into $work/load.txt: requests/s, p50 and p99 latency, and
# the requests made.
load() { # URL [COOKIE [HEADER...]]
  local header=()
  [ -n "${2:-}" ] && header=(-H "Cookie: $2")
  for extra in "${@:3}"; do header+=(-H "$extra"); done
  wrk -t2 -c32 -d"${seconds}s" --latency "${header[@]}" "$1" >"$work/wrk.txt"
  local rps p50 p99 count
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
  count=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
  p50=$(awk '$1=="50%" {print $2}' "$work/wrk.txt")
  p99=$(awk '$1=="99%" {print $2}' "$work/wrk.txt")
  if grep -q "Non-2xx" "$work/wrk.txt"; then
    echo "bench: $1 answered errors under load:" >&2
    cat "$work/wrk.txt" >&2
    exit 1
  fi
  echo "$rps $p50 $p99 $count" >"$work/load.txt"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
rows=()
# measure URL COOKIE PID: a load, and the serving process's CPU time per
# request (from /proc), into $work/measure.txt: "rps p50 p99 cpu_us".
measure() {
  local before rps p50 p99 count
  before=$(cpu_ticks "$3")
  load "$1" "$2"
  read -r rps p50 p99 count <"$work/load.txt"
  echo "$rps $p50 $p99 $(awk -v t="$(( $(cpu_ticks "$3") - before ))" -v n="$count" \
    'BEGIN { printf "%.1f", t * 10000 / n }')" >"$work/measure.txt"
}
# row LABEL URL COOKIE PID: a line of the table, against the baseline and
# the bare Axum /hello of the same run.
row() {
  local p50 p99
  measure "$2" "$3" "$4"
  read -r last_rps p50 p99 last_cpu <"$work/measure.txt"
  rows+=("| $1 | $last_rps | $p50 | $p99 | $(ratio "$last_rps" "$base_rps") | $(ratio "$last_rps" "$bare_rps") | $last_cpu µs |")
}
met() { # CONDITION (awk): met or MISSED
  awk "BEGIN { print ($1) ? \"met\" : \"MISSED\" }"
}

# --- signed-in request cost, per store, with and without the cache
say "load: references (bare Axum), /healthz (baseline), signed-in pages per store, ${seconds}s each"
start_server "$app_port" "$work/sqlite.log" AUTH_PROVIDERS=local LOCAL_ISSUER="$issuer" \
  LOCAL_CLIENT_ID=portcullis-dev LOCAL_CLIENT_SECRET=portcullis-dev-secret \
  DATABASE_URL="sqlite://$work/portcullis.db" TOKEN_REFRESH_SKEW_SECONDS=1
sqlite_pid=$server_pid
cookie=$(node bench/sign-in.mjs "$app_url" demo)
# The references, in the same run: a bare Axum server (server/examples/bare_axum.rs).
bare_port=$(free_port)
BARE_ADDR="127.0.0.1:$bare_port" "$bare" >"$work/bare.out" 2>"$work/bare.log" &
bare_pid=$!
pids+=("$bare_pid")
for _ in $(seq 100); do grep -q BARE_READY "$work/bare.out" 2>/dev/null && break; sleep 0.1; done
measure "http://127.0.0.1:$bare_port/hello" "" "$bare_pid"
read -r bare_rps bare_p50 bare_p99 bare_cpu <"$work/measure.txt"
measure "http://127.0.0.1:$bare_port/me" "bare=1" "$bare_pid"
read -r me_rps me_p50 me_p99 me_cpu <"$work/measure.txt"
kill "$bare_pid"
measure "$app_url/healthz" "" "$sqlite_pid"
read -r base_rps base_p50 base_p99 base_cpu <"$work/measure.txt"
rows+=("| bare Axum \`GET /hello\` (reference) | $bare_rps | $bare_p50 | $bare_p99 | $(ratio "$bare_rps" "$base_rps") | 100% | $bare_cpu µs |")
rows+=("| bare Axum \`GET /me\`, in-memory session map (reference) | $me_rps | $me_p50 | $me_p99 | $(ratio "$me_rps" "$base_rps") | $(ratio "$me_rps" "$bare_rps") | $me_cpu µs |")
rows+=("| \`GET /healthz\` (baseline: same server and middleware, no session) | $base_rps | $base_p50 | $base_p99 | 100% | $(ratio "$base_rps" "$bare_rps") | $base_cpu µs |")
row "\`GET /auth/user\`, SQLite (the default)" "$app_url/auth/user" "$cookie" "$sqlite_pid"
user_rps=$last_rps user_cpu=$last_cpu
row "\`GET /\` (server-rendered home, signed in), SQLite" "$app_url/" "$cookie" "$sqlite_pid"
home_rps=$last_rps
row "\`GET /profile\` (server-rendered), SQLite" "$app_url/profile" "$cookie" "$sqlite_pid"
profile_rps=$last_rps
uncached_port=$(free_port)
start_server "$uncached_port" "$work/sqlite-uncached.log" AUTH_PROVIDERS=local LOCAL_ISSUER="$issuer" \
  LOCAL_CLIENT_ID=portcullis-dev LOCAL_CLIENT_SECRET=portcullis-dev-secret \
  DATABASE_URL="sqlite://$work/portcullis.db" SESSION_CACHE_SECONDS=0
row "\`GET /auth/user\`, SQLite, cache off (\`SESSION_CACHE_SECONDS=0\`)" "http://127.0.0.1:$uncached_port/auth/user" "$cookie" "$server_pid"
uncached_cpu=$last_cpu
budgets=(
  "\`/auth/user\` (SQLite) at ≥ 0.6× bare Axum \`/hello\`: **$(met "$user_rps >= 0.6 * $bare_rps")** ($(ratio "$user_rps" "$bare_rps"))"
  "\`/auth/user\` (SQLite) at ≤ 15 µs of server CPU: **$(met "$user_cpu <= 15")** ($user_cpu µs)"
  "\`/auth/user\`, cache off (SQLite) at ≤ 60 µs of server CPU: **$(met "$uncached_cpu <= 60")** ($uncached_cpu µs)"
  "\`/profile\` at ≥ 25% of \`/healthz\`: **$(met "$profile_rps >= 0.25 * $base_rps")** ($(ratio "$profile_rps" "$base_rps"))"
  "home page at ≥ 40% of \`/healthz\`: **$(met "$home_rps >= 0.4 * $base_rps")** ($(ratio "$home_rps" "$base_rps"))"
)

for store in postgres redis; do
  if [ "$store" = postgres ]; then
    label=PostgreSQL
    vars=(DATABASE_URL="$(pg_database bench_pg)")
  else
    label="Redis (users in PostgreSQL)"
    vars=(DATABASE_URL="$(pg_database bench_redis)" SESSION_STORE_URL="$redis" SESSION_STORE_PREFIX=bench)
  fi
  port=$(free_port)
  start_server "$port" "$work/$store.log" "${fast_vars[@]}" "${vars[@]}"
  store_cookie=$(fast_sign_in "http://127.0.0.1:$port")
  row "\`GET /auth/user\`, $label" "http://127.0.0.1:$port/auth/user" "$store_cookie" "$server_pid"
  row "\`GET /profile\`, $label" "http://127.0.0.1:$port/profile" "$store_cookie" "$server_pid"
  port=$(free_port)
  start_server "$port" "$work/$store-uncached.log" "${fast_vars[@]}" "${vars[@]}" SESSION_CACHE_SECONDS=0
  row "\`GET /auth/user\`, $label, cache off" "http://127.0.0.1:$port/auth/user" "$store_cookie" "$server_pid"
done

# --- the API proxy: a tiny upstream called directly, then through the proxy
say "API proxy: a tiny upstream directly and through /api/remote/tiny, ${seconds}s each"
node bench/tiny-api.mjs >"$work/tiny.out" 2>"$work/tiny.log" &
pids+=($!)
for _ in $(seq 100); do grep -q TINY_API_READY "$work/tiny.out" 2>/dev/null && break; sleep 0.1; done
tiny_url=$(json_field "$(sed -n 's/^TINY_API_READY //p' "$work/tiny.out")" url)
proxy_port=$(free_port)
start_server "$proxy_port" "$work/proxy.log" "${fast_vars[@]}" DATABASE_URL="sqlite://$work/proxy.db" \
  TOKEN_REFRESH_SKEW_SECONDS=1 REMOTE_APIS=tiny API_TINY_URL="$tiny_url" API_TINY_PROVIDER=fast
proxy_pid=$server_pid
proxy_cookie=$(fast_sign_in "http://127.0.0.1:$proxy_port")
load "$tiny_url/ping" "" "Authorization: Bearer bench"
read -r direct_rps direct_p50 direct_p99 _ <"$work/load.txt"
ticks_before=$(cpu_ticks "$proxy_pid")
load "http://127.0.0.1:$proxy_port/api/remote/tiny/ping" "$proxy_cookie" "X-CSRF: 1"
read -r proxied_rps proxied_p50 proxied_p99 proxied_count <"$work/load.txt"
proxy_cpu_us=$(awk -v t="$(( $(cpu_ticks "$proxy_pid") - ticks_before ))" -v n="$proxied_count" \
  'BEGIN { printf "%.0f", t * 10000 / n }')
added() { # P_PROXIED P_DIRECT: wrk latencies (us/ms/s), the difference in ms
  awk -v a="$1" -v b="$2" 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; return v * 1000 }
    BEGIN { printf "%+.2f ms", ms(a) - ms(b) }'
}
kill "$proxy_pid"

# --- refresh storms
say "refresh storm: 1000 concurrent requests on one session's expired access token"
storm=$(node bench/refresh-storm.mjs "$app_url" "$cookie" "$work/issued.txt" "$ttl" 1000)
ms() { awk -v v="$1" 'BEGIN { printf "%.1f ms", v }'; }
storm_refreshes=$(json_field "$storm" refreshes)
storm_ok=$([ "$storm_refreshes" = 1 ] && echo met || echo MISSED)
fresh_p50=$(ms "$(json_field "$storm" fresh.p50)"); fresh_p99=$(ms "$(json_field "$storm" fresh.p99)")
storm_p50=$(ms "$(json_field "$storm" storm.p50)"); storm_p99=$(ms "$(json_field "$storm" storm.p99)")
added_p99=$(awk -v a="$(json_field "$storm" storm.p99)" -v b="$(json_field "$storm" fresh.p99)" 'BEGIN { printf "%+.1f ms", a - b }')

login_port=$(free_port)
login_url="http://127.0.0.1:$login_port"
start_server "$login_port" "$work/login-server.log" "${fast_vars[@]}" \
  DATABASE_URL="sqlite://$work/logins.db" TOKEN_REFRESH_SKEW_SECONDS=1
login_pid=$server_pid
say "1000 sessions whose access tokens expire at once (waits ${fast_ttl}s for them to expire)"
expiry=$(node bench/expiry-storm.mjs "$login_url" "$fast_issuer" "$fast_ttl" 1000)
expiry_ok=$(node -e '
  const r = JSON.parse(process.argv[1]);
  const ok = r.expired.refreshes === r.n && r.expired.duplicated === 0 && r.expired.lost === 0
    && r.after.refreshes === 0 && r.after.lost === 0;
  console.log(ok ? "met" : "MISSED");' "$expiry")

# --- login throughput
say "login throughput: complete sign-ins against the fast scripted provider"
logins=$(node bench/login-throughput.mjs "$login_url" "$login_pid" "$seconds" 16)
login_rate=$(awk -v v="$(json_field "$logins" perSecond)" 'BEGIN { printf "%.0f", v }')
login_cpu=$(awk -v v="$(json_field "$logins" cpuMsPerLogin)" 'BEGIN { printf "%.2f ms", v }')
login_count=$(json_field "$logins" logins)

# --- memory: the server's RSS with many sessions, bytes per session per store
memory_rows=()
for store in sqlite postgres redis; do
  say "memory: $sessions signed-in sessions in $store"
  case $store in
    sqlite)
      label=SQLite
      vars=(DATABASE_URL="sqlite://$work/memory.db") ;;
    postgres)
      label=PostgreSQL
      vars=(DATABASE_URL="$(pg_database memory_pg)") ;;
    redis)
      label="Redis (users in PostgreSQL)"
      vars=(DATABASE_URL="$(pg_database memory_redis)" SESSION_STORE_URL="$redis" SESSION_STORE_PREFIX=memory) ;;
  esac
  seed() { env "${fast_vars[@]}" "${vars[@]}" TOKEN_ENCRYPTION_KEYS="$keys" RUST_LOG=error "$seeder" "$@"; }
  size() { # bytes the store holds now
    case $store in
      sqlite) sqlite3 "$work/memory.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
              cat "$work"/memory.db* | wc -c ;;
      postgres) psql -qtA "${vars[0]#DATABASE_URL=}" -c "SELECT pg_database_size(current_database())" ;;
      redis) redis-cli -u "$redis" INFO memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r' ;;
    esac
  }
  seed 0 >/dev/null # the schema alone
  empty=$(size)
  started=$(date +%s.%N)
  seed "$sessions" >"$work/cookies.txt"
  seed_seconds=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
  per_session=$(awk -v a="$empty" -v b="$(size)" -v n="$sessions" 'BEGIN { printf "%.0f", (b - a) / n }')
  port=$(free_port)
  start_server "$port" "$work/memory-$store.log" "${fast_vars[@]}" "${vars[@]}"
  rss_start=$(rss_kb "$server_pid")
  touched=$(node bench/touch-sessions.mjs "http://127.0.0.1:$port" "$work/cookies.txt" 64)
  rss_after=$(rss_kb "$server_pid")
  signed_in=$(json_field "$touched" signedIn)
  kill "$server_pid"
  mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
  memory_rows+=("| $label | $per_session bytes | $(mib "$rss_start") | $(mib "$rss_after") ($signed_in of $sessions served signed in) | ${seed_seconds} s |")
done

# --- browser cost
wasm=$(ls "$pkg"/*.wasm | head -1)
raw=$(stat -c %s "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
br=$(brotli -q 11 -c "$wasm" | wc -c)
kb() { awk -v b="$1" 'BEGIN { printf "%.1f KB", b / 1024 }'; }
br_ok=$(met "$br < 170 * 1024")
budgets+=("browser bundle under 170 KB brotli: **$br_ok** ($(kb "$br"))")
tti_rows=()
if [ -f bench/time-to-interactive.mjs ]; then
  say "time to interactive: the home page in headless Chromium"
  tti=$(node bench/time-to-interactive.mjs "$app_url" 10)
  tti_rows+=("$(node -e 'const r=JSON.parse(process.argv[1]); const f=(v)=>v.toFixed(0)+" ms";
    const kb=(b)=>(b/1024).toFixed(1)+" KB";
    console.log(`| home page \`/\` (${r.runs} cold loads each; bundle sent as ${kb(r.wasmBytes)}) | ${f(r.fcp.p50)} | ${f(r.tti.p50)} | ${f(r.tti.p90)} | ${f(r.withoutScript.p50)} | ${(100*r.tti.p50/r.withoutScript.p50).toFixed(0)}% |`)' "$tti")")
fi

cpu=$(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
{
  echo "# Benchmarks"
  echo
  echo "Machine: $(nproc) cores ($cpu), $mem, $(uname -sr); $(rustc --version | cut -d' ' -f1-2);"
  echo "run $(date -u +'%Y-%m-%d %H:%M UTC') at commit $(git rev-parse --short HEAD), \`make bench\`, release build,"
  echo "wrk 2 threads × 32 connections × ${seconds}s on loopback; PostgreSQL is the tests' throwaway cluster (fsync off)."
  echo
  echo "| Signed-in request | Requests/s | p50 | p99 | vs baseline | vs bare Axum \`/hello\` | Server CPU per request |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Budgets (server CPU from /proc, the serving process alone):"
  echo
  for budget in "${budgets[@]}"; do echo "- $budget"; done
  echo
  echo "| API proxy (tiny upstream, signed-in session, SQLite) | Requests/s | p50 | p99 |"
  echo "|---|---|---|---|"
  echo "| the upstream called directly | $direct_rps | $direct_p50 | $direct_p99 |"
  echo "| through \`/api/remote/tiny\` (session, fresh token, headers, streaming) | $proxied_rps ($(ratio "$proxied_rps" "$direct_rps") of direct) | $proxied_p50 | $proxied_p99 |"
  echo "| added by the proxy | | $(added "$proxied_p50" "$direct_p50") | $(added "$proxied_p99" "$direct_p99") |"
  echo
  echo "Server CPU per proxied request: ${proxy_cpu_us} µs (from /proc, the Portcullis process alone)."
  echo
  echo "| Refresh storm | Refreshes at the provider | p50 | p99 | Added p99 | Budget |"
  echo "|---|---|---|---|---|---|"
  echo "| 1,000 concurrent requests, one session, fresh access token | $(json_field "$storm" fresh.refreshes) | $fresh_p50 | $fresh_p99 | | |"
  echo "| the same, access token just expired | $storm_refreshes | $storm_p50 | $storm_p99 | $added_p99 | exactly 1: $storm_ok |"
  echo "| 1,000 sessions whose access tokens expired at once, one request each | $(json_field "$expiry" expired.refreshes) (presented twice: $(json_field "$expiry" expired.duplicated); requests without the provider's data: $(json_field "$expiry" expired.lost)) | $(ms "$(json_field "$expiry" expired.p50)") | $(ms "$(json_field "$expiry" expired.p99)") | | 1,000, none duplicated, none lost: $expiry_ok |"
  echo "| the same 1,000 sessions again right after | $(json_field "$expiry" after.refreshes) | $(ms "$(json_field "$expiry" after.p50)") | $(ms "$(json_field "$expiry" after.p99)") | | |"
  echo
  echo "| Login throughput (16 browsers at once, fast scripted provider, SQLite) | Value |"
  echo "|---|---|"
  echo "| complete sign-ins per second (start → provider → callback → session) | $login_rate ($login_count in ${seconds}s) |"
  echo "| server CPU time per sign-in | $login_cpu |"
  echo
  echo "| Memory: $sessions signed-in sessions (account, identity, sealed tokens, session row and record) | Store per session | Server RSS at start | RSS after serving every session once | Time to create them |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${memory_rows[@]}"
  echo
  echo "| Browser bundle (\`$(basename "$wasm")\`) | Size | Budget |"
  echo "|---|---|---|"
  echo "| raw | $(kb "$raw") | |"
  echo "| gzip -9 | $(kb "$gz") | |"
  echo "| brotli -q 11 | $(kb "$br") | < 170 KB: $br_ok |"
  if [ ${#tti_rows[@]} -gt 0 ]; then
    echo
    echo "| Headless Chromium, loopback | First contentful paint (p50) | Interactive, hydrated (p50) | Interactive (p90) | Same page without JavaScript, loaded (p50) | Interactive vs without JavaScript |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${tti_rows[@]}"
  fi
} > bench/results.md
cat bench/results.md
