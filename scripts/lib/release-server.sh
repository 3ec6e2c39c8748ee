# Shared by `make bench` and `make profile` (sourced, from the repository
# root): a free port, the cargo target directory, and the release server
# started as both measure it.

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

target_dir() {
  cargo metadata --no-deps --format-version 1 \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))'
}

# start_server PORT LOG VAR=VALUE...: the release server $binary on PORT with the
# vault key $keys, its log in LOG; its pid in $server_pid (added to $pids).
start_server() {
  local port=$1 log=$2
  shift 2
  env LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT="$root/target/site" LEPTOS_SITE_PKG_DIR=pkg \
    APP_PUBLIC_URL="http://127.0.0.1:$port" BACKGROUND_REFRESH_SECONDS=0 RATE_LIMIT_SIGN_IN_PER_MINUTE=0 RATE_LIMIT_BACKCHANNEL_PER_MINUTE=0 TOKEN_ENCRYPTION_KEYS="$keys" \
    RUST_LOG=error "$@" "$binary" >"$log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 200); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
  cat "$log" >&2
  echo "the release server on port $port did not start" >&2
  exit 1
}
