#!/usr/bin/env bash
# `make dev`: the local identity provider, the fake GitHub and the notes API
# (an API of the app's own, reached through Portcullis's proxy), plus
# `cargo leptos watch`, on the embedded defaults. Ctrl-C stops everything
# this started.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Tools that `cargo install` puts here must be found even in a shell that
# has not sourced rustup's profile (CI, fresh machines).
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
scripts/bootstrap.sh dev

# LEPTOS_SITE_ADDR and LEPTOS_RELOAD_PORT move the app (cargo-leptos reads
# them too); IDP_PORT moves the identity provider, FAKE_GITHUB_PORT the fake
# GitHub, NOTES_API_PORT the notes API.
export LEPTOS_SITE_ADDR=${LEPTOS_SITE_ADDR:-127.0.0.1:3000}
app_url=${APP_PUBLIC_URL:-http://$LEPTOS_SITE_ADDR}
idp_port=${IDP_PORT:-5556}
github_port=${FAKE_GITHUB_PORT:-5557}
notes_port=${NOTES_API_PORT:-5558}
state_dir="$root/.dev"
mkdir -p "$state_dir"

idp_pid=""
github_pid=""
notes_pid=""
cleanup() {
  trap - EXIT INT TERM
  set +e # best effort: a child may be gone already
  for pid in ${banner_pid:-} $notes_pid $idp_pid $github_pid; do
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  echo
  echo "dev: stopped."
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. The local identity provider, registered for this app's callback.
rm -f "$state_dir/idp.json"
IDP_PORT=$idp_port \
IDP_REDIRECT_URIS="$app_url/auth/callback/local" \
IDP_POST_LOGOUT_REDIRECT_URIS="$app_url/auth/logged-out" \
IDP_BACKCHANNEL_LOGOUT_URI="$app_url/auth/backchannel/local" \
IDP_READY_FILE="$state_dir/idp.json" \
  node end2end/identity-provider/server.mjs >/dev/null 2>"$state_dir/idp.log" &
idp_pid=$!
for _ in $(seq 100); do
  [ -f "$state_dir/idp.json" ] && break
  if ! kill -0 "$idp_pid" 2>/dev/null; then
    echo "dev: the local identity provider did not start:" >&2
    cat "$state_dir/idp.log" >&2
    echo "dev: if port $idp_port is taken, run with another: IDP_PORT=5557 make dev" >&2
    exit 1
  fi
  sleep 0.1
done
issuer=$(node -p "require('$state_dir/idp.json').issuer")

# 2. The fake GitHub, a second provider for trying "Connect GitHub".
FAKE_GITHUB_PORT=$github_port \
FAKE_GITHUB_REDIRECT_URIS="$app_url/auth/callback/github" \
  node end2end/fake-github/server.mjs >"$state_dir/github.out" 2>"$state_dir/github.log" &
github_pid=$!
for _ in $(seq 100); do
  grep -q FAKE_GITHUB_READY "$state_dir/github.out" 2>/dev/null && break
  if ! kill -0 "$github_pid" 2>/dev/null; then
    echo "dev: the fake GitHub did not start:" >&2
    cat "$state_dir/github.log" >&2
    echo "dev: if port $github_port is taken, run with another: FAKE_GITHUB_PORT=5558 make dev" >&2
    exit 1
  fi
  sleep 0.1
done
github_url=http://127.0.0.1:$github_port

# 3. The notes API, which takes the local provider's tokens meant for it.
NOTES_API_PORT=$notes_port \
NOTES_API_ISSUER=$issuer \
NOTES_API_RESOURCE=https://notes-api.portcullis.test \
  node end2end/notes-api/server.mjs >"$state_dir/notes.out" 2>"$state_dir/notes.log" &
notes_pid=$!
for _ in $(seq 100); do
  grep -q NOTES_API_READY "$state_dir/notes.out" 2>/dev/null && break
  if ! kill -0 "$notes_pid" 2>/dev/null; then
    echo "dev: the notes API did not start:" >&2
    cat "$state_dir/notes.log" >&2
    echo "dev: if port $notes_port is taken, run with another: NOTES_API_PORT=5559 make dev" >&2
    exit 1
  fi
  sleep 0.1
done

# 4. Portcullis, configured for all three.
export APP_PUBLIC_URL=$app_url
export AUTH_PROVIDERS=${AUTH_PROVIDERS:-local,github}
export LOCAL_ISSUER=$issuer
export LOCAL_CLIENT_ID=portcullis-dev
export LOCAL_CLIENT_SECRET=portcullis-dev-secret
export LOCAL_LABEL=${LOCAL_LABEL:-Local demo provider}
export GITHUB_ISSUER=$github_url
export GITHUB_API_URL=$github_url/api/v3
export GITHUB_CLIENT_ID=portcullis-dev-github
export GITHUB_CLIENT_SECRET=portcullis-dev-github-secret
export GITHUB_LABEL="${GITHUB_LABEL:-GitHub (local fake)}"
# The notes API trusts the local provider's tokens only: it is configured
# when that provider is (REMOTE_APIS= turns it off).
if [[ ",$AUTH_PROVIDERS," == *",local,"* ]]; then
  export REMOTE_APIS=${REMOTE_APIS-notes}
  export API_NOTES_URL=${API_NOTES_URL:-http://127.0.0.1:$notes_port}
  export API_NOTES_PROVIDER=${API_NOTES_PROVIDER:-local}
  # Its own tokens, meant for it alone (RFC 8707), with its scopes.
  export API_NOTES_RESOURCE=${API_NOTES_RESOURCE-https://notes-api.portcullis.test}
  export API_NOTES_SCOPES=${API_NOTES_SCOPES-notes:read notes:write}
fi
export RUST_LOG=${RUST_LOG:-warn,server=info}
# The token vault's key: made once and kept in .dev/, so sessions and their
# tokens survive restarting `make dev` (never use this key in production).
if [ -z "${TOKEN_ENCRYPTION_KEYS:-}" ]; then
  if [ ! -s "$state_dir/token-key" ]; then
    (umask 077 && head -c 32 /dev/urandom | base64 >"$state_dir/token-key")
  fi
  TOKEN_ENCRYPTION_KEYS="dev:$(cat "$state_dir/token-key")"
  export TOKEN_ENCRYPTION_KEYS
fi

# 5. The welcome banner, once the server answers.
node -e '
  const url = process.argv[1], issuer = process.argv[2], github = process.argv[3];
  const tick = async () => {
    try { if ((await fetch(url + "/healthz")).ok) {
      console.log(`
  ┌──────────────────────────────────────────────────────────────┐
    Portcullis is running:   ${url}
    Identity provider:       ${issuer}
    Demo account:            login "demo", password "demo"
    Fake GitHub:             ${github} (users: dana, octocat, …)
    Stop everything with Ctrl-C.
  └──────────────────────────────────────────────────────────────┘
`); return; } } catch {}
    setTimeout(tick, 500);
  };
  tick();
' "$app_url" "$issuer" "$github_url" &
banner_pid=$!

echo "dev: building and starting Portcullis (the first build takes a few minutes)…"
cargo leptos watch
