#!/usr/bin/env bash
# `make test`: every check, in the order that fails fastest.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Tools that `cargo install` puts here must be found even in a shell that
# has not sourced rustup's profile (CI, fresh machines).
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
scripts/bootstrap.sh test

# cargo-leptos compiles with LEPTOS_OUTPUT_NAME set, and leptos reads it at
# compile time: the same value here lets tests and the site build share one
# set of compiled dependencies.
export LEPTOS_OUTPUT_NAME=portcullis

step() {
  local name=$1
  shift
  printf '\n\033[1m==> %s\033[0m\n' "$name"
  local start=$SECONDS
  "$@"
  printf '\033[2m    (%s: %ss)\033[0m\n' "$name" $((SECONDS - start))
}

step "bootstrap: idempotent, complete, clear when it cannot help" scripts/tests/bootstrap.sh
step "format" cargo fmt --all --check
step "lint: server and SSR app" cargo clippy -p portcullis -p reference -p app --all-targets --features portcullis/testing,portcullis/leptos -- -D warnings
step "lint: the library without its optional features" cargo clippy -p portcullis --all-targets -- -D warnings
step "the benchmark's session seeder builds with the testing feature alone" cargo check -q -p portcullis --features testing --examples
step "lint: browser bundle" cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings
step "architecture: the browser bundle cannot name a token; the library's API is its crate root" scripts/check-architecture.sh
step "library docs build without warnings" env RUSTDOCFLAGS="-D warnings" cargo doc -p portcullis --no-deps --features testing,leptos
step "the library packages and builds on its own, offline" cargo package -p portcullis --offline --allow-dirty --quiet
# A hung test fails the run within minutes instead of eating CI's budget.
step "unit and integration tests" timeout 900 cargo test -p app -p portcullis -p reference --features portcullis/testing,portcullis/leptos
step "SECURITY.md names only tests that exist" scripts/check-security-table.sh
step "local identity provider selftest" npm --prefix end2end run --silent test:idp
step "build the site" cargo leptos build
step "end-to-end tests in Chromium" timeout 600 bash -c 'cd end2end && npx playwright test'
step "make dev: starts, serves, stops on Ctrl-C" scripts/tests/dev.sh
