// Shared test fixtures: the running stack's address, and a guard that fails
// a test on any browser console error or uncaught page error.

import { test as base, expect, type Page } from '@playwright/test';

export { expect };

export const test = base.extend<{ consoleErrors: string[]; expectedConsoleErrors: RegExp[] }>({
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
});

/** Waits until the WASM app has hydrated the server-rendered page. */
export async function waitForHydration(page: Page): Promise<void> {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}
