import { test, expect, waitForHydration } from '../support/fixtures';
import { DEMO, confirmLogoutAtProvider, signInAtProvider } from '../support/identity-provider';

// The browser stack's local provider issues access tokens that live 5 s
// (IDP_ACCESS_TOKEN_TTL in the global setup).

async function signIn(page: import('@playwright/test').Page) {
  await page.goto('/');
  await page.getByRole('link', { name: 'Continue with Local demo provider' }).click();
  const login = page.locator('input[name=login]');
  await Promise.race([login.waitFor({ state: 'visible' }), page.waitForURL((url) => url.pathname === '/')]);
  if (await login.isVisible()) await signInAtProvider(page, DEMO);
  await expect(page.getByRole('heading', { name: `Welcome back, ${DEMO.name}` })).toBeVisible();
}

test('live provider data still loads after the access token has expired', async ({ page }) => {
  await signIn(page);
  await page.goto('/profile');
  await waitForHydration(page);
  // Past the 5 s lifetime: the server refreshes before calling the provider.
  await page.waitForTimeout(6_000);
  const live = page.getByRole('region', { name: 'Live from Local demo provider' });
  await live.getByRole('button', { name: 'Fetch live data' }).click();
  const data = live.getByTestId('live-data');
  await expect(data).toBeVisible();
  await expect(data).toContainText(DEMO.name);
  await expect(data).toContainText(DEMO.email);
  // Again, a few seconds later: still fresh.
  await page.waitForTimeout(6_000);
  await live.getByRole('button', { name: 'Fetch live data' }).click();
  await expect(live.getByText(/userinfo at Local demo provider/)).toBeVisible();
  await expect(live.getByRole('alert')).toHaveCount(0);
});

test('signing out at the provider signs the browser out of Portcullis (back-channel)', async ({ page }) => {
  await signIn(page);
  // The user goes to the provider and signs out there, not here.
  await page.goto(`${process.env.PORTCULLIS_IDP!}/session/end?client_id=portcullis-dev`);
  await page.getByRole('button', { name: 'Yes, sign me out' }).click();
  await page.goto('/profile');
  await expect(page.getByRole('heading', { name: 'You are not signed in' })).toBeVisible();
});

test('after the provider rotates its signing keys, live data still loads and signing out there still signs the browser out', async ({ page }) => {
  await signIn(page);
  await page.goto('/profile');
  await waitForHydration(page);
  // The provider starts signing with a new key (the old one stays published),
  // as Google does routinely; sessions and grants carry on.
  const rotated = await fetch(`${process.env.PORTCULLIS_IDP!}/__test/rotate-signing-key`, { method: 'POST' });
  expect(rotated.ok).toBe(true);
  // Past the 5 s lifetime: the refresh brings an ID token signed with the new key.
  await page.waitForTimeout(6_000);
  const live = page.getByRole('region', { name: 'Live from Local demo provider' });
  await live.getByRole('button', { name: 'Fetch live data' }).click();
  await expect(live.getByTestId('live-data')).toContainText(DEMO.email);
  await expect(live.getByRole('alert')).toHaveCount(0);
  // Signing out at the provider: its logout token is signed with the new key too.
  await page.goto(`${process.env.PORTCULLIS_IDP!}/session/end?client_id=portcullis-dev`);
  await page.getByRole('button', { name: 'Yes, sign me out' }).click();
  await page.goto('/profile');
  await expect(page.getByRole('heading', { name: 'You are not signed in' })).toBeVisible();
});

test('signing out of Portcullis ends the provider session too', async ({ page }) => {
  await signIn(page);
  await page.goto('/profile');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Log out' }).click();
  await confirmLogoutAtProvider(page);
  // Signing in again asks for the login: the provider session is gone.
  await page.goto('/');
  await page.getByRole('link', { name: 'Continue with Local demo provider' }).click();
  await expect(page.locator('input[name=login]')).toBeVisible();
});
