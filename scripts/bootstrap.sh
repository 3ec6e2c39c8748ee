#!/usr/bin/env bash
# Installs what building and testing Portcullis needs, skipping whatever is
# already present. Safe to run again and again; `make dev` and `make test`
# call it first.
#
#   scripts/bootstrap.sh dev    toolchain for building and running
#   scripts/bootstrap.sh test   the same, plus the browser for end-to-end tests
#                               and PostgreSQL and Redis for the store tests
#
# Everything comes from the package registries (crates.io, npm, Debian);
# nothing downloads a prebuilt binary from elsewhere.
set -euo pipefail

mode=${1:-dev}
case "$mode" in dev|test) ;; *) echo "usage: $0 dev|test" >&2; exit 2 ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Tools that `cargo install` puts here must be found even in a shell that
# has not sourced rustup's profile (CI, fresh machines).
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

CARGO_LEPTOS_VERSION=0.3.10
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

say() { printf '\033[1mbootstrap:\033[0m %s\n' "$*"; }
die() { printf '\033[1;31mbootstrap:\033[0m %s\n' "$*" >&2; exit 1; }

need() { # need COMMAND "what to install"
  command -v "$1" >/dev/null 2>&1 || die "$1 is missing. $2"
}

need cargo "Install Rust with rustup (https://rustup.rs), then run this again."
need rustup "Install Rust with rustup (https://rustup.rs) so the WebAssembly target can be added."
need node "Install Node.js 20 or newer (Debian: apt-get install nodejs npm)."
need npm "Install npm (Debian: apt-get install npm)."
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js $node_major is too old: install Node.js 20 or newer."

# 1. The WebAssembly target for the browser bundle.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# 2. cargo-leptos, the build driver, at the version known to work here.
if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION from crates.io (once; about 12 minutes on 2 cores)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi

# 3. wasm-bindgen-cli at exactly the version in Cargo.lock: cargo-leptos does
#    not check, and a mismatch builds a bundle that cannot load.
wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
[ -n "$wb_version" ] || die "Cargo.lock names no wasm-bindgen version; run 'cargo generate-lockfile'."
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
  say "installing wasm-bindgen-cli $wb_version from crates.io (once; about 3 minutes)"
  cargo install wasm-bindgen-cli --version "$wb_version" --locked
fi

# 4. npm packages: wasm-opt (binaryen) at the root for release builds, the
#    identity provider and Playwright (without its browser) in end2end/.
npm_install() { # npm_install DIR
  local dir=$1
  if [ ! -f "$dir/node_modules/.package-lock.json" ] \
     || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "installing npm packages in ${dir#"$root"}/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
npm_install "$root"
npm_install "$root/end2end"

# 5. The local OAuth 1.0a provider's Python packages (oauthlib), pinned by
#    hash, in a virtual environment of its own.
oauth1_dir="$root/end2end/oauth1-provider"
if [ ! -x "$oauth1_dir/.venv/bin/python" ] \
   || [ "$oauth1_dir/requirements.txt" -nt "$oauth1_dir/.venv/installed" ]; then
  need python3 "Install Python 3.9 or newer (Debian: apt-get install python3 python3-venv)."
  say "installing the OAuth 1.0a provider's Python packages in ${oauth1_dir#"$root"}/.venv/"
  rm -rf "$oauth1_dir/.venv"
  python3 -m venv "$oauth1_dir/.venv" \
    || die "python3 cannot make a virtual environment (Debian: apt-get install python3-venv)."
  "$oauth1_dir/.venv/bin/pip" install --quiet --require-hashes -r "$oauth1_dir/requirements.txt"
  touch "$oauth1_dir/.venv/installed"
fi

# Installs a Debian package as root; otherwise says what to install.
apt_install() { # apt_install PACKAGE "what it is for"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's $1 $2"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
  else
    die "$1 is missing: install Debian's $1 package (sudo apt-get install $1), then run this again."
  fi
}

# 6. Chromium from Debian for the end-to-end tests.
if [ "$mode" = test ] && [ ! -x /usr/bin/chromium ]; then
  apt_install chromium "for the browser tests"
fi

# 7. PostgreSQL server binaries for the tests that run against a real
#    PostgreSQL (scripts/services/postgres.sh starts a throwaway cluster).
if [ "$mode" = test ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
   && ! command -v initdb >/dev/null 2>&1; then
  apt_install postgresql "for the database tests"
fi

# 8. Redis for the tests of Redis as the session store
#    (scripts/services/redis.sh starts a throwaway server).
if [ "$mode" = test ] && ! command -v redis-server >/dev/null 2>&1; then
  apt_install redis-server "for the session-store tests"
fi

say "toolchain ready ($mode)"
