#!/usr/bin/env bash
# `make fuzz`: runs every cargo-fuzz target (fuzz/fuzz_targets/) for a
# bounded time each (FUZZ_SECONDS, default 60), with the nightly toolchain.
# A crash stops the run and leaves its input under fuzz/artifacts/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
seconds=${FUZZ_SECONDS:-60}

rustup toolchain list | grep -q '^nightly' \
  || { echo "fuzz: the nightly toolchain is needed (rustup toolchain install nightly)" >&2; exit 1; }
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz from crates.io (once)"
  cargo install cargo-fuzz --locked
fi

for target in $(cargo +nightly fuzz list); do
  echo "fuzz: $target for ${seconds}s"
  cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=4096
done
echo "fuzz: no target found a crash in ${seconds}s each"
