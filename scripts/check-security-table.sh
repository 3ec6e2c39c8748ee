#!/usr/bin/env bash
# SECURITY.md maps every rule to the tests that prove it: this fails when
# it names a Rust test that does not exist (renamed or deleted), so the
# table cannot quietly go stale.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

tests=$(cargo test -q -p portcullis -p reference --features portcullis/testing,portcullis/leptos -- --list 2>/dev/null | sed -n 's/: test$//p' | sed 's/.*:://' | sort -u)
[ -n "$tests" ] || { echo "check-security-table: no tests listed" >&2; exit 1; }
missing=0
# Test names are long snake_case identifiers in backticks.
for name in $(grep -o '`[a-z0-9_]\{26,\}`' SECURITY.md | tr -d '`' | sort -u); do
  if ! grep -qx "$name" <<<"$tests"; then
    echo "SECURITY.md names a test that does not exist: $name" >&2
    missing=$((missing + 1))
  fi
done
[ "$missing" -eq 0 ] && echo "SECURITY.md: every named test exists"
