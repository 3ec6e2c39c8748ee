#!/usr/bin/env bash
# Proves `make dev`: it starts the identity provider, the fake GitHub and the
# app, prints the
# address and the demo account, serves a page whose sign-in button works, and
# Ctrl-C (SIGINT to its process group, as a terminal sends it) stops
# everything it started. Uses free ports, so it never collides with a
# developer's own `make dev`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
listening() { # listening PORT
  node -e 'const c=require("net").connect(+process.argv[1],"127.0.0.1");c.on("connect",()=>process.exit(0));c.on("error",()=>process.exit(1))' "$1"
}
http_get() { # http_get URL
  node -e 'fetch(process.argv[1],{redirect:"manual"}).then(async r=>{process.stdout.write(r.status+"\n"+(r.headers.get("location")||"")+"\n"+await r.text())}).catch(()=>process.exit(1))' "$1"
}

app_port=$(free_port)
reload_port=$(free_port)
idp_port=$(free_port)
github_port=$(free_port)
notes_port=$(free_port)
log=$(mktemp)
passed=0
failed=0
check() {
  local name=$1
  shift
  if "$@"; then echo "ok   $name"; passed=$((passed + 1)); else echo "FAIL $name"; failed=$((failed + 1)); fi
}

# setsid: a process group of its own, like a terminal's foreground job.
LEPTOS_SITE_ADDR=127.0.0.1:$app_port LEPTOS_RELOAD_PORT=$reload_port IDP_PORT=$idp_port \
FAKE_GITHUB_PORT=$github_port NOTES_API_PORT=$notes_port \
  setsid make dev >"$log" 2>&1 </dev/null &
dev_pid=$!
cleanup() { kill -KILL -- "-$dev_pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT

for _ in $(seq 600); do
  grep -q "Portcullis is running" "$log" && break
  kill -0 "$dev_pid" 2>/dev/null || break
  sleep 1
done
check "make dev prints the address" grep -q "Portcullis is running: *http://127.0.0.1:$app_port" "$log"
check "make dev prints the demo account" grep -q 'login "demo", password "demo"' "$log"
check "make dev keeps a token vault key for its persistent store" test -s .dev/token-key

home=$(http_get "http://127.0.0.1:$app_port/" || true)
check "the home page offers the local provider" grep -q 'href="/auth/sign-in/local"' <<<"$home"
start=$(http_get "http://127.0.0.1:$app_port/auth/sign-in/local" || true)
check "its sign-in button leads to the local provider" \
  grep -q "^http://127.0.0.1:$idp_port/auth?" <<<"$(sed -n 2p <<<"$start")"

check "the home page offers the fake GitHub as a second provider" \
  grep -q 'href="/auth/sign-in/github"' <<<"$home"
start=$(http_get "http://127.0.0.1:$app_port/auth/sign-in/github" || true)
check "its GitHub button leads to the fake GitHub" \
  grep -q "^http://127.0.0.1:$github_port/login/oauth/authorize?" <<<"$(sed -n 2p <<<"$start")"

check "the app listens before Ctrl-C" listening "$app_port"
check "the identity provider listens before Ctrl-C" listening "$idp_port"
check "the notes API listens before Ctrl-C" listening "$notes_port"
notes=$(node -e 'fetch(process.argv[1],{headers:{"x-csrf":"1"}}).then(r=>process.stdout.write(String(r.status))).catch(()=>process.exit(1))' \
  "http://127.0.0.1:$app_port/api/remote/notes/notes" || true)
check "the notes API is proxied (anonymous: 401)" test "$notes" = 401

kill -INT -- "-$dev_pid"
for _ in $(seq 30); do
  kill -0 "$dev_pid" 2>/dev/null || break
  sleep 1
done
check "Ctrl-C ends make dev" bash -c "! kill -0 $dev_pid 2>/dev/null"
sleep 1
check "Ctrl-C stops the app" bash -c "$(declare -f listening); ! listening $app_port"
check "Ctrl-C stops the identity provider" bash -c "$(declare -f listening); ! listening $idp_port"
check "Ctrl-C stops the fake GitHub" bash -c "$(declare -f listening); ! listening $github_port"
check "Ctrl-C stops the notes API" bash -c "$(declare -f listening); ! listening $notes_port"
check "make dev says it stopped" grep -q "dev: stopped." "$log"
check "nothing of make dev is left running" bash -c "! pgrep -g $dev_pid >/dev/null"

if [ "$failed" -ne 0 ]; then
  echo "--- make dev output ---"
  cat "$log"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
