#!/usr/bin/env bash
# The `app` crate is compiled into the browser bundle: it must not depend on
# anything that can hold or fetch a token, not even under `ssr`.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
for crate in oauth2 openidconnect reqwest sqlx; do
  for features in ssr hydrate; do
    if found=$(cargo tree -p app --features "$features" -e normal -i "$crate" 2>/dev/null) && [ -n "$found" ]; then
      echo "app (features $features) depends on $crate:" >&2
      echo "$found" >&2
      status=1
    fi
  done
done
[ "$status" = 0 ] && echo "app depends on none of: oauth2 openidconnect reqwest sqlx"

# The browser bundle does not even see the library.
if found=$(cargo tree -p app --features hydrate -e normal -i portcullis 2>/dev/null) && [ -n "$found" ]; then
  echo "app depends on portcullis:" >&2
  echo "$found" >&2
  status=1
fi

# The library's public API is what its crate root exports: every module is
# private but `telemetry`, `testing` and `leptos` (features) and `fuzzing` (cargo fuzz
# only), and nothing is public-but-hidden, so the reference app and the
# examples, which the compiler holds to that API, use nothing else.
public_modules=$(grep -E '^\s*pub mod ' server/src/lib.rs | sed -E 's/^\s*pub mod ([a-z_]+).*/\1/' | sort | tr '\n' ' ')
if [ "$public_modules" != "fuzzing leptos telemetry testing " ]; then
  echo "server/src/lib.rs: public modules are \"$public_modules\", expected \"fuzzing leptos telemetry testing \"" >&2
  status=1
fi
if ! grep -B1 -A1 -E '#\[doc\(hidden\)\]' -r server/src | grep -q 'pub mod fuzzing' \
  || [ "$(grep -rc -E '#\[doc\(hidden\)\]' server/src | awk -F: '{n += $2} END {print n}')" != 1 ]; then
  echo "server/src: #[doc(hidden)] is only for the fuzzing entry points" >&2
  grep -rn -E '#\[doc\(hidden\)\]' server/src >&2 || true
  status=1
fi
# Provider behaviour sits behind the providers' trait (CodeFlow): outside
# providers/ and config/ (which reads which protocol a provider speaks),
# nothing branches on a provider's protocol.
branches=$(grep -rn -E 'Protocol::|is_oidc\(' server/src --include=*.rs \
  | grep -v -E '^server/src/(providers|config)/' || true)
if [ -n "$branches" ]; then
  echo "server/src: protocol branches outside providers/ (use the CodeFlow trait):" >&2
  echo "$branches" >&2
  status=1
fi
# The library's modules import each other without cycles.
python3 scripts/lib/module_cycles.py || status=1
[ "$status" = 0 ] && echo "the library's API is its crate root, its modules have no import cycle, provider behaviour is behind one trait, and the browser bundle cannot reach it"
exit "$status"
