#!/usr/bin/env bash
# `make bench`: measures Portcullis on this machine and writes
# bench/results.md (not part of `make test`). Timings are reported as
# ratios to a baseline measured in the same run, because shared machines
# are noisy. Needs wrk and brotli (Debian packages; installed when root).
#
#   BENCH_SECONDS  duration of each load test (default 10)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
seconds=${BENCH_SECONDS:-10}
scripts/bootstrap.sh dev
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

say() { printf '\033[1mbench:\033[0m %s\n' "$*"; }
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

say "building the release site and server (the first time takes a while)"
export LEPTOS_OUTPUT_NAME=portcullis
cargo leptos build --release >/dev/null 2>&1 || cargo leptos build --release
target_dir=$(cargo metadata --no-deps --format-version 1 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
binary="$target_dir/release/server"
pkg="$root/target/site/pkg"

work=$(mktemp -d /tmp/portcullis-bench.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

app_port=$(free_port)
app_url="http://127.0.0.1:$app_port"
ttl=8
IDP_PORT=0 IDP_REDIRECT_URIS="$app_url/auth/callback/local" IDP_ACCESS_TOKEN_TTL=$ttl \
IDP_CANARY_FILE="$work/issued.txt" \
IDP_POST_LOGOUT_REDIRECT_URIS="$app_url/auth/logged-out" IDP_BACKCHANNEL_LOGOUT_URI= \
IDP_READY_FILE="$work/idp.json" node end2end/identity-provider/server.mjs >/dev/null 2>"$work/idp.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/idp.json" ] && break; sleep 0.1; done
issuer=$(node -p "require('$work/idp.json').issuer")

LEPTOS_SITE_ADDR=127.0.0.1:$app_port LEPTOS_SITE_ROOT="$root/target/site" LEPTOS_SITE_PKG_DIR=pkg \
APP_PUBLIC_URL=$app_url AUTH_PROVIDERS=local LOCAL_ISSUER=$issuer \
LOCAL_CLIENT_ID=portcullis-dev LOCAL_CLIENT_SECRET=portcullis-dev-secret \
DATABASE_URL="sqlite://$work/portcullis.db" TOKEN_REFRESH_SKEW_SECONDS=1 BACKGROUND_REFRESH_SECONDS=0 \
RUST_LOG=error "$binary" >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "$app_url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
cookie=$(node bench/sign-in.mjs "$app_url" demo)

# wrk's summary: requests/s, p50 and p99 latency.
load() { # load PATH [COOKIE]
  local header=()
  [ -n "${2:-}" ] && header=(-H "Cookie: $2")
  wrk -t2 -c32 -d"${seconds}s" --latency "${header[@]}" "$app_url$1" >"$work/wrk.txt"
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
  p50=$(awk '$1=="50%" {print $2}' "$work/wrk.txt")
  p99=$(awk '$1=="99%" {print $2}' "$work/wrk.txt")
  echo "$rps $p50 $p99"
}
say "load: /healthz (baseline), /auth/user and /profile signed in, ${seconds}s each"
read -r base_rps base_p50 base_p99 < <(load /healthz)
read -r user_rps user_p50 user_p99 < <(load /auth/user "$cookie")
read -r page_rps page_p50 page_p99 < <(load /profile "$cookie")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
user_ratio=$(ratio "$user_rps" "$base_rps")
page_ratio=$(ratio "$page_rps" "$base_rps")
user_ok=$(awk -v a="$user_rps" -v b="$base_rps" 'BEGIN { print (a / b >= 0.5) ? "met" : "MISSED" }')

say "refresh storm: 1000 concurrent requests on an expired access token"
storm=$(node bench/refresh-storm.mjs "$app_url" "$cookie" "$work/issued.txt" "$ttl" 1000)
field() { node -e "const r=JSON.parse(process.argv[1]);console.log(eval('r.'+process.argv[2]))" "$storm" "$1"; }
ms() { awk -v v="$1" 'BEGIN { printf "%.1f ms", v }'; }
storm_refreshes=$(field refreshes)
storm_ok=$([ "$storm_refreshes" = 1 ] && echo met || echo MISSED)
fresh_p50=$(ms "$(field fresh.p50)"); fresh_p99=$(ms "$(field fresh.p99)")
storm_p50=$(ms "$(field storm.p50)"); storm_p99=$(ms "$(field storm.p99)")
added_p99=$(awk -v a="$(field storm.p99)" -v b="$(field fresh.p99)" 'BEGIN { printf "%+.1f ms", a - b }')

say "login throughput: complete sign-ins against a fast scripted provider"
node bench/fast-provider.mjs >"$work/fast.out" 2>"$work/fast.log" &
pids+=($!)
for _ in $(seq 100); do grep -q FAST_IDP_READY "$work/fast.out" 2>/dev/null && break; sleep 0.1; done
fast_issuer=$(sed -n 's/^FAST_IDP_READY //p' "$work/fast.out" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).issuer))')
login_port=$(free_port)
login_url="http://127.0.0.1:$login_port"
LEPTOS_SITE_ADDR=127.0.0.1:$login_port LEPTOS_SITE_ROOT="$root/target/site" LEPTOS_SITE_PKG_DIR=pkg \
APP_PUBLIC_URL=$login_url AUTH_PROVIDERS=fast FAST_ISSUER=$fast_issuer \
FAST_CLIENT_ID=bench FAST_CLIENT_SECRET=bench-secret \
DATABASE_URL="sqlite://$work/logins.db" BACKGROUND_REFRESH_SECONDS=0 \
RUST_LOG=error "$binary" >"$work/login-server.log" 2>&1 &
login_pid=$!
pids+=("$login_pid")
for _ in $(seq 100); do curl -fs "$login_url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
logins=$(node bench/login-throughput.mjs "$login_url" "$login_pid" "$seconds" 16)
login_field() { node -e "const r=JSON.parse(process.argv[1]);console.log(r[process.argv[2]])" "$logins" "$1"; }
login_rate=$(awk -v v="$(login_field perSecond)" 'BEGIN { printf "%.0f", v }')
login_cpu=$(awk -v v="$(login_field cpuMsPerLogin)" 'BEGIN { printf "%.2f ms", v }')
login_count=$(login_field logins)
# What a signed-in session costs the SQLite store: its file (and journal)
# divided by the sessions in it, after a checkpoint.
sessions_stored=$(node -e '
  const { execFileSync } = require("child_process");
  console.log(execFileSync("sqlite3", [process.argv[1], "PRAGMA wal_checkpoint(TRUNCATE); SELECT count(*) FROM logins;"]).toString().trim().split("\n").pop());
' "$work/logins.db" 2>/dev/null || echo 0)
db_bytes=$(cat "$work"/logins.db* 2>/dev/null | wc -c)
per_session=$(awk -v b="$db_bytes" -v n="$sessions_stored" 'BEGIN { if (n > 0) printf "%.0f bytes", b / n; else print "n/a (sqlite3 missing)" }')

wasm=$(ls "$pkg"/*.wasm | head -1)
raw=$(stat -c %s "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
br=$(brotli -q 11 -c "$wasm" | wc -c)
kb() { awk -v b="$1" 'BEGIN { printf "%.1f KB", b / 1024 }'; }
br_ok=$(awk -v b="$br" 'BEGIN { print (b < 200 * 1024) ? "met" : "MISSED" }')

cpu=$(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
{
  echo "# Benchmarks"
  echo
  echo "Machine: $(nproc) cores ($cpu), $mem, $(uname -sr); $(rustc --version | cut -d' ' -f1-2);"
  echo "run $(date -u +'%Y-%m-%d %H:%M UTC') at commit $(git rev-parse --short HEAD), \`make bench\`, release build, SQLite,"
  echo "wrk 2 threads × 32 connections × ${seconds}s on loopback."
  echo
  echo "| Measure | Requests/s | p50 | p99 | vs baseline | Budget |"
  echo "|---|---|---|---|---|---|"
  echo "| \`GET /healthz\` (baseline: same server and middleware, no session) | $base_rps | $base_p50 | $base_p99 | 100% | |"
  echo "| \`GET /auth/user\`, signed in | $user_rps | $user_p50 | $user_p99 | $user_ratio | ≥ 50%: $user_ok |"
  echo "| \`GET /profile\` (server-rendered), signed in | $page_rps | $page_p50 | $page_p99 | $page_ratio | |"
  echo
  echo "| Refresh storm: 1,000 concurrent requests for one session | Refreshes at the provider | p50 | p99 | Added p99 | Budget |"
  echo "|---|---|---|---|---|---|"
  echo "| fresh access token | $(field fresh.refreshes) | $fresh_p50 | $fresh_p99 | | |"
  echo "| access token just expired | $storm_refreshes | $storm_p50 | $storm_p99 | $added_p99 | exactly 1: $storm_ok |"
  echo
  echo "| Login throughput (16 browsers at once, fast scripted provider) | Value |"
  echo "|---|---|"
  echo "| complete sign-ins per second (start → provider → callback → session) | $login_rate ($login_count in ${seconds}s) |"
  echo "| server CPU time per sign-in | $login_cpu |"
  echo "| SQLite store per signed-in session (account, identity, session, login row, sealed tokens) | $per_session ($sessions_stored sessions) |"
  echo
  echo "| Browser bundle (\`$(basename "$wasm")\`) | Size | Budget |"
  echo "|---|---|---|"
  echo "| raw | $(kb "$raw") | |"
  echo "| gzip -9 | $(kb "$gz") | |"
  echo "| brotli -q 11 | $(kb "$br") | < 200 KB: $br_ok |"
} > bench/results.md
cat bench/results.md
