// Time to interactive of the home page in headless Chromium: RUNS cold
// loads (a fresh browser context each: no cache, no cookies), each timed
// from navigation start to first contentful paint and to the app having
// hydrated (it sets `data-hydrated` on <body>, app/src/lib.rs). Beside it,
// in the same run, the same page with JavaScript off, timed to its load
// event: what the server-rendered page alone costs, so hydration's share
// can be read as a ratio on a noisy machine. Prints JSON.
//
//   node bench/time-to-interactive.mjs APP_URL [RUNS]

import { createRequire } from 'node:module';
import { chromiumLaunchOptions } from '../end2end/lib/chromium.mjs';

const require = createRequire(new URL('../end2end/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [appUrl, runs = '10'] = process.argv.slice(2);
const browser = await chromium.launch(chromiumLaunchOptions);

/** The moment `data-hydrated` appears, in the page's own clock. */
function watchHydration() {
  new MutationObserver((_, observer) => {
    if (document.body?.dataset.hydrated) {
      document.body.dataset.hydratedAt = String(performance.now());
      observer.disconnect();
    }
  }).observe(document, { attributes: true, subtree: true, attributeFilter: ['data-hydrated'] });
}

/** One cold load of the home page, timed to hydration. */
async function hydrated() {
  const context = await browser.newContext();
  await context.addInitScript(watchHydration);
  const page = await context.newPage();
  await page.goto(`${appUrl}/`, { waitUntil: 'commit' });
  await page.waitForSelector('body[data-hydrated-at]', { state: 'attached', timeout: 30_000 });
  const measured = await page.evaluate(() => ({
    fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
    tti: Number(document.body.dataset.hydratedAt),
    // The bundle's body as it came over the wire (compressed, if it was).
    // Not Content-Length: a compressed response is sent chunked, without
    // one. The preload and the module's own fetch share one download, so
    // the larger entry is the real one.
    wasmBytes: Math.max(
      0,
      ...performance
        .getEntriesByType('resource')
        .filter((entry) => new URL(entry.name).pathname.endsWith('.wasm'))
        .map((entry) => entry.encodedBodySize),
    ),
  }));
  await context.close();
  return measured;
}

/** One cold load of the home page with JavaScript off, timed to its load event. */
async function withoutScript() {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${appUrl}/`, { waitUntil: 'load' });
  const load = await page.evaluate(() => performance.getEntriesByType('navigation')[0].loadEventEnd);
  await context.close();
  return load;
}

const percentiles = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p90: at(0.9) };
};

const loads = [];
const plain = [];
for (let i = 0; i < Number(runs); i += 1) {
  loads.push(await hydrated());
  plain.push(await withoutScript());
}
await browser.close();
console.log(
  JSON.stringify({
    runs: loads.length,
    fcp: percentiles(loads.map((r) => r.fcp)),
    tti: percentiles(loads.map((r) => r.tti)),
    wasmBytes: loads[0]?.wasmBytes ?? 0,
    withoutScript: percentiles(plain),
  }),
);
