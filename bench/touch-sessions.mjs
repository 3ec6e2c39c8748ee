// Uses every session in COOKIES_FILE once (GET /auth/user, CONCURRENCY at a
// time), so the server has served all of them; prints JSON: how many were
// signed in, how many were not, and the rate.
//
//   node bench/touch-sessions.mjs APP_URL COOKIES_FILE [CONCURRENCY]

import { readFileSync } from 'node:fs';

const [appUrl, file, concurrency = '64'] = process.argv.slice(2);
const cookies = readFileSync(file, 'utf8').split('\n').filter(Boolean);
let next = 0;
let signedIn = 0;
let other = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: Number(concurrency) }, async () => {
    while (next < cookies.length) {
      const cookie = cookies[next++];
      const response = await fetch(`${appUrl}/auth/user`, { headers: { cookie: `portcullis=${cookie}` } });
      await response.arrayBuffer();
      if (response.status === 200) signedIn += 1;
      else other += 1;
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ sessions: cookies.length, signedIn, other, perSecond: cookies.length / seconds }));
