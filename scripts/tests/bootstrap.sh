#!/usr/bin/env bash
# Proves the bootstrap is idempotent and explains what it cannot install.
# Runs after a first bootstrap, so every tool is present.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
passed=0
failed=0
check() { # check NAME CONDITION-COMMAND...
  local name=$1
  shift
  if "$@"; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    failed=$((failed + 1))
  fi
}

# 1. A second run finds everything and installs nothing.
second=$(scripts/bootstrap.sh test 2>&1)
check "a second bootstrap installs nothing" \
  bash -c '! grep -q "installing" <<<"$1" && grep -q "toolchain ready (test)" <<<"$1"' _ "$second"

# 2. What it installed is what the build needs, at the right versions.
lock_wb=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
check "cargo-leptos is 0.3.10" bash -c '[ "$(cargo leptos --version | awk "{print \$2}")" = 0.3.10 ]'
check "wasm-bindgen-cli equals Cargo.lock's wasm-bindgen ($lock_wb)" \
  bash -c '[ "$(wasm-bindgen --version | awk "{print \$2}")" = "$1" ]' _ "$lock_wb"
check "the wasm32 target is installed" bash -c 'rustup target list --installed | grep -qx wasm32-unknown-unknown'
check "wasm-opt for release builds is binaryen 132" bash -c 'node_modules/.bin/wasm-opt --version | grep -q "version 132"'
check "the identity provider and Playwright are installed" \
  test -d end2end/node_modules/oidc-provider -a -d end2end/node_modules/@playwright/test
check "the OAuth 1.0a provider runs oauthlib 4.0.1 from its own environment" \
  bash -c '[ "$(end2end/oauth1-provider/.venv/bin/python -c "import oauthlib; print(oauthlib.__version__)")" = 4.0.1 ]'
check "Debian chromium is installed" test -x /usr/bin/chromium
check "PostgreSQL server binaries are installed" bash -c 'ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb'
check "redis-server is installed" command -v redis-server

# 3. Without node, one clear sentence and a non-zero exit, no stack trace.
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
for tool in bash cargo rustup rustc awk grep dirname id env cat; do
  path=$(command -v "$tool" || true)
  [ -n "$path" ] && ln -s "$path" "$tools/$tool"
done
set +e
no_node=$(PATH="$tools" CARGO_HOME=/nonexistent "$tools/bash" scripts/bootstrap.sh dev 2>&1)
status=$?
set -e
check "a missing node exits non-zero" test "$status" -ne 0
check "a missing node is explained in one sentence" \
  bash -c '[ "$(wc -l <<<"$1")" -eq 1 ] && grep -q "node is missing. Install Node.js 20 or newer" <<<"$1"' _ "$no_node"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
