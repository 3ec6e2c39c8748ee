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
exit "$status"
