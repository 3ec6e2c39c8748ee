import { test, expect, waitForHydration } from '../support/fixtures';
import { DEMO, confirmLogoutAtProvider, signInAtProvider } from '../support/identity-provider';

test('a visitor signs in with the local provider, stays signed in across a reload, and signs out', async ({ page }) => {
  await page.goto('/');
  await waitForHydration(page);
  await page.getByRole('link', { name: 'Continue with Local demo provider' }).click();

  await signInAtProvider(page);
  await expect(page).toHaveURL('/');
  await expect(page.getByRole('heading', { name: `Welcome back, ${DEMO.name}` })).toBeVisible();
  await expect(page).not.toHaveURL(/code=/);

  await page.getByRole('link', { name: 'Go to your profile' }).click();
  await expect(page.getByRole('heading', { name: DEMO.name })).toBeVisible();
  await expect(page.locator('.profile-head').getByText(DEMO.email)).toBeVisible();
  await expect(page.getByTestId('provider')).toHaveText('Local demo provider');

  // The server-rendered HTML already shows the signed-in state: no flash.
  const html = await (await page.request.get('/profile')).text();
  expect(html).toContain(DEMO.name);
  await page.reload();
  await expect(page.getByRole('heading', { name: DEMO.name })).toBeVisible();

  await waitForHydration(page);
  await page.getByRole('button', { name: 'Log out' }).click();
  await confirmLogoutAtProvider(page);
  await expect(page.getByRole('heading', { name: 'You are signed out' })).toBeVisible();

  // The back button does not bring the profile back (the provider's
  // sign-out page sits between the two in the history).
  for (let step = 0; step < 5 && new URL(page.url()).pathname !== '/profile'; step += 1) {
    await page.goBack();
  }
  await expect(page).toHaveURL('/profile');
  await expect(page.getByRole('heading', { name: 'You are not signed in' })).toBeVisible();
  await expect(page.getByText(DEMO.email)).toHaveCount(0);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('sign-in and sign-out work as plain links and forms', async ({ page }) => {
    await page.goto('/');
    await page.getByRole('link', { name: 'Continue with Local demo provider' }).click();
    await signInAtProvider(page);
    await expect(page.getByRole('heading', { name: `Welcome back, ${DEMO.name}` })).toBeVisible();
    await page.goto('/profile');
    await page.getByRole('button', { name: 'Log out' }).click();
    await confirmLogoutAtProvider(page);
  });
});

test.describe('a failed sign-in', () => {
  test.use({ expectedConsoleErrors: [/status of 400 \(Bad Request\)/] });

  test('a callback that does not match the started sign-in ends on a clear error page with a way forward', async ({ page }) => {
    await page.goto('/auth/sign-in/local');
    await expect(page.locator('input[name=login]')).toBeVisible();
    const issuer = new URL(page.url()).origin;
    await page.goto(`/auth/callback/local?error=access_denied&state=forged&iss=${encodeURIComponent(issuer)}`);
    await expect(page.getByRole('heading', { name: 'Sign-in expired' })).toBeVisible();
    await expect(page.getByTestId('error-code')).toHaveText('PC-AUTH-002');
    await waitForHydration(page);
    await page.getByRole('link', { name: 'Try again' }).click();
    await expect(page.locator('input[name=login]')).toBeVisible();
  });
});
