// Steps on the local identity provider's own pages (node-oidc-provider's
// development login and consent forms), as a person would take them.

import { expect, type Page } from '@playwright/test';

export const DEMO = { login: 'demo', password: 'demo', name: 'Dana Demo', email: 'demo@portcullis.test' };
export const ALICE = { login: 'alice', password: 'alice', name: 'Alice Example', email: 'alice@portcullis.test' };

/** Fills the provider's login form, then its consent form if it asks, and
 * waits to be back at `appUrl`. */
export async function signInAtProvider(
  page: Page,
  account = DEMO,
  appUrl = process.env.PORTCULLIS_URL!,
): Promise<void> {
  await expect(page.locator('input[name=login]')).toBeVisible();
  await page.locator('input[name=login]').fill(account.login);
  await page.locator('input[name=password]').fill(account.password);
  await page.locator('button[type=submit]').click();
  const consent = page.getByRole('button', { name: 'Continue' });
  // Either the consent form appears, or the provider sends us straight back.
  await Promise.race([
    consent.waitFor({ state: 'visible' }),
    page.waitForURL((url) => url.href.startsWith(appUrl)),
  ]);
  if (!page.url().startsWith(appUrl)) await consent.click();
  await page.waitForURL((url) => url.href.startsWith(appUrl));
}

/**
 * After "Log out": Portcullis has signed the browser out and sent it to the
 * provider to end that session too. Confirms there, and waits for the way
 * back to "You are signed out".
 */
export async function confirmLogoutAtProvider(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Yes, sign me out' }).click();
  await page.waitForURL(/\/auth\/logged-out(\?|$)/);
  await expect(page.getByRole('heading', { name: 'You are signed out' })).toBeVisible();
}
