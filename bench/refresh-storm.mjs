// Refresh storm: N concurrent requests that need the provider's data, once
// with a fresh access token and once right after it expired. Prints JSON:
// the refreshes the provider saw during the storm (counted from the
// tokens it issued) and the p50/p99 latency of both rounds.
//
//   node bench/refresh-storm.mjs APP_URL COOKIE ISSUED_TOKENS_FILE TTL_SECONDS [N]

import { readFileSync } from 'node:fs';
import { percentiles } from './fast-login.mjs';

const [appUrl, cookie, issuedFile, ttl, count = '1000'] = process.argv.slice(2);
const n = Number(count);
const issued = () => readFileSync(issuedFile, 'utf8').split('\n').filter(Boolean).length;

async function round() {
  const times = await Promise.all(
    Array.from({ length: n }, async () => {
      const started = performance.now();
      const response = await fetch(`${appUrl}/api/live_profile`, {
        method: 'POST',
        headers: { cookie, origin: appUrl, 'content-type': 'application/x-www-form-urlencoded' },
        body: '',
      });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`live_profile answered ${response.status}`);
      return performance.now() - started;
    }),
  );
  return percentiles(times);
}

// One request first: it refreshes the token if it has expired already, so
// the first round runs on a fresh one.
await fetch(`${appUrl}/api/live_profile`, {
  method: 'POST',
  headers: { cookie, origin: appUrl, 'content-type': 'application/x-www-form-urlencoded' },
  body: '',
});
const beforeFresh = issued();
const fresh = await round();
fresh.refreshes = (issued() - beforeFresh) / 2;
await new Promise((resolve) => setTimeout(resolve, (Number(ttl) + 1) * 1000));
const before = issued();
const storm = await round();
// Each refresh issues one access and one refresh token.
const refreshes = (issued() - before) / 2;
console.log(JSON.stringify({ n, refreshes, fresh, storm }));
