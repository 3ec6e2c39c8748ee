// Steps on the fake GitHub's sign-in page (end2end/fake-github/server.mjs),
// as a person would take them.

import { expect, type Page } from '@playwright/test';

/** Types `login` on the fake GitHub's page and authorizes the app. */
export async function signInAtGitHub(page: Page, login: string): Promise<void> {
  await expect(page.getByRole('heading', { name: 'Sign in to GitHub' })).toBeVisible();
  await page.getByLabel('Username').fill(login);
  await page.getByRole('button', { name: 'Authorize' }).click();
  const appUrl = process.env.PORTCULLIS_URL!;
  await page.waitForURL((url) => url.href.startsWith(appUrl));
}
