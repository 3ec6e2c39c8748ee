#!/usr/bin/env bash
# `make dev`: the local identity provider plus `cargo leptos watch`, on the
# embedded defaults. Ctrl-C stops everything this started.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Tools that `cargo install` puts here must be found even in a shell that
# has not sourced rustup's profile (CI, fresh machines).
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
scripts/bootstrap.sh dev

# LEPTOS_SITE_ADDR and LEPTOS_RELOAD_PORT move the app (cargo-leptos reads
# them too); IDP_PORT moves the identity provider.
export LEPTOS_SITE_ADDR=${LEPTOS_SITE_ADDR:-127.0.0.1:3000}
app_url=${APP_PUBLIC_URL:-http://$LEPTOS_SITE_ADDR}
idp_port=${IDP_PORT:-5556}
state_dir="$root/.dev"
mkdir -p "$state_dir"

idp_pid=""
cleanup() {
  trap - EXIT INT TERM
  set +e # best effort: a child may be gone already
  for pid in ${banner_pid:-} $idp_pid; do
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

# 2. Portcullis, configured for it.
export APP_PUBLIC_URL=$app_url
export AUTH_PROVIDERS=${AUTH_PROVIDERS:-local}
export LOCAL_ISSUER=$issuer
export LOCAL_CLIENT_ID=portcullis-dev
export LOCAL_CLIENT_SECRET=portcullis-dev-secret
export LOCAL_LABEL=${LOCAL_LABEL:-Local demo provider}
export RUST_LOG=${RUST_LOG:-warn,server=info}

# 3. The welcome banner, once the server answers.
node -e '
  const url = process.argv[1], issuer = process.argv[2];
  const tick = async () => {
    try { if ((await fetch(url + "/healthz")).ok) {
      console.log(`
  ┌──────────────────────────────────────────────────────────────┐
    Portcullis is running:   ${url}
    Identity provider:       ${issuer}
    Demo account:            login "demo", password "demo"
    Stop everything with Ctrl-C.
  └──────────────────────────────────────────────────────────────┘
`); return; } } catch {}
    setTimeout(tick, 500);
  };
  tick();
' "$app_url" "$issuer" &
banner_pid=$!

echo "dev: building and starting Portcullis (the first build takes a few minutes)…"
cargo leptos watch
