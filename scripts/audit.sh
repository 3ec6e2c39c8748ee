#!/usr/bin/env bash
# `make audit`: the dependency tree's licenses, banned crates and
# duplicate versions, checked by cargo-deny against deny.toml. Offline:
# the advisory database is not fetched (no network here); run
# `cargo deny check advisories` where the network allows.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if ! cargo deny --version >/dev/null 2>&1; then
  echo "audit: installing cargo-deny from crates.io (once; a few minutes)"
  cargo install cargo-deny --locked
fi
cargo deny --offline check licenses bans sources
