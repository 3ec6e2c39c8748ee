// Shared test fixtures: the running stack's address, and a guard that fails
// a test on any browser console error or uncaught page error.

import { readFileSync } from 'node:fs';

import { test as base, expect, type Page } from '@playwright/test';

export { expect };

/** The tokens the local provider has issued so far (the canaries). */
function issuedTokens(): string[] {
  const file = process.env.PORTCULLIS_CANARY_FILE;
  if (!file) return [];
  return readFileSync(file, 'utf8').split('\n').filter((token) => token.length >= 16);
}

export const test = base.extend<{
  consoleErrors: string[];
  expectedConsoleErrors: RegExp[];
  canaryHunt: void;
}>({
  // Console errors a test provokes on purpose (e.g. the 404 of a missing page).
  expectedConsoleErrors: [[], { option: true }],
  baseURL: async ({}, use) => {
    const url = process.env.PORTCULLIS_URL;
    if (!url) throw new Error('PORTCULLIS_URL is not set: global setup did not run');
    await use(url);
  },
  consoleErrors: [
    async ({ page, expectedConsoleErrors }, use) => {
      const errors: string[] = [];
      page.on('console', (msg) => {
        if (msg.type() === 'error') errors.push(`${msg.text()} (${msg.location().url})`);
      });
      page.on('pageerror', (err) => errors.push(err.message));
      await use(errors);
      const unexpected = errors.filter((text) => !expectedConsoleErrors.some((re) => re.test(text)));
      expect(unexpected, 'browser console errors').toEqual([]);
    },
    { auto: true },
  ],
  // Canary hunt: nothing the browser received (URLs, headers, bodies of
  // pages, redirects, server functions) and no server log line may hold a
  // token the provider issued.
  canaryHunt: [
    async ({ page }, use) => {
      const seen: string[] = [];
      page.on('request', (request) => seen.push(request.url()));
      page.on('response', async (response) => {
        seen.push(response.url(), JSON.stringify(await response.allHeaders()));
        try {
          seen.push(await response.text());
        } catch {
          // redirects and aborted loads have no body
        }
      });
      await use();
      await page.waitForLoadState('load').catch(() => {});
      const tokens = issuedTokens();
      const log = readFileSync(process.env.PORTCULLIS_SERVER_LOG ?? '/dev/null', 'utf8');
      for (const token of tokens) {
        expect(seen.some((text) => text.includes(token)), `a token reached the browser: ${token}`).toBe(false);
        expect(log.includes(token), `a token is in the server log: ${token}`).toBe(false);
      }
    },
    { auto: true },
  ],
});

/** Waits until the WASM app has hydrated the server-rendered page. */
export async function waitForHydration(page: Page): Promise<void> {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}
