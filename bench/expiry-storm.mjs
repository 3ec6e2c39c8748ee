// Many sessions expiring at once: signs in N sessions at the fast scripted
// provider, waits until every access token has expired, then makes one
// request per session that needs the provider's data, all at once. Each
// session needs one refresh: the provider must see exactly N, no refresh
// token presented twice (duplicated), every request answered with the
// provider's data (none lost); a second round then makes no refresh (every
// rotated refresh token was kept). Prints JSON.
//
//   node bench/expiry-storm.mjs APP_URL ISSUER ACCESS_TTL_SECONDS [N]

import { percentiles, signIn } from './fast-login.mjs';

const [appUrl, issuer, ttl, count = '1000'] = process.argv.slice(2);
const n = Number(count);
const stats = async () => (await fetch(`${issuer}/stats`)).json();

const cookies = [];
const queue = Array.from({ length: n }, (_, i) => i);
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (queue.pop() !== undefined) cookies.push(await signIn(appUrl));
  }),
);
await new Promise((resolve) => setTimeout(resolve, Number(ttl) * 1000 + 1500));

async function round() {
  const before = await stats();
  const started = performance.now();
  const answers = await Promise.all(
    cookies.map(async (cookie) => {
      const begun = performance.now();
      const response = await fetch(`${appUrl}/api/live_profile`, {
        method: 'POST',
        headers: { cookie, origin: appUrl, 'content-type': 'application/x-www-form-urlencoded' },
        body: '',
      });
      const body = await response.text();
      return { ok: response.status === 200 && body.includes('Bench User'), ms: performance.now() - begun };
    }),
  );
  const after = await stats();
  return {
    refreshes: after.refreshes - before.refreshes,
    duplicated: after.refreshTokensPresentedTwice - before.refreshTokensPresentedTwice,
    expiredUsed: after.expiredAccessTokensUsed - before.expiredAccessTokensUsed,
    answered: answers.filter((a) => a.ok).length,
    lost: answers.filter((a) => !a.ok).length,
    seconds: (performance.now() - started) / 1000,
    ...percentiles(answers.map((a) => a.ms)),
  };
}

const expired = await round();
const after = await round();
console.log(JSON.stringify({ n, expired, after }));
