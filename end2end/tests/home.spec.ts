import { test, expect, waitForHydration } from '../support/fixtures';

test('the home page hydrates and a server function answers from the browser', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveTitle('Sign in · Portcullis');
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Continue with Local demo provider' })).toHaveAttribute(
    'href',
    '/auth/sign-in/local',
  );

  await waitForHydration(page);

  const status = page.getByRole('status');
  await expect(status).toHaveText('');
  const call = page.waitForResponse((r) => r.url().endsWith('/api/status') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Check service status' }).click();
  expect((await call).status()).toBe(200);
  await expect(status).toContainText('Online · version');
  await expect(status).toContainText('2 of 2 sign-in providers available');
});

test('each sign-in button shows its provider\'s icon, or its initial, at the same size', async ({ page }) => {
  await page.goto('/');
  const github = page.getByRole('link', { name: 'Continue with GitHub' });
  const icon = github.locator('img');
  await expect(icon).toHaveAttribute('alt', '');
  await expect(icon).toHaveAttribute('src', '/auth/icons/github.svg');
  // Loaded and drawn: the image decoded to its size.
  await expect.poll(() => icon.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
  const initial = page.getByRole('link', { name: 'Continue with Local demo provider' }).locator('.provider-icon');
  await expect(initial).toHaveText('L');
  const [iconBox, initialBox] = [await icon.boundingBox(), await initial.boundingBox()];
  expect(Math.round(iconBox!.width)).toBe(Math.round(initialBox!.width));
  expect(Math.round(iconBox!.height)).toBe(Math.round(initialBox!.height));
  // Nothing moved when it loaded: the button kept its height.
  const before = (await github.boundingBox())!.height;
  await page.reload();
  expect((await github.boundingBox())!.height).toBe(before);
});

test.describe('a missing page', () => {
  test.use({ expectedConsoleErrors: [/the server responded with a status of 404/] });

  test('an unknown address shows a helpful 404 page with a way back', async ({ page }) => {
  const response = await page.goto('/no/such/page');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  await expect(page.getByTestId('error-code')).toHaveText('PC-WEB-404');
  await waitForHydration(page);
  await page.getByRole('link', { name: 'Back to the start page' }).click();
  await expect(page).toHaveURL('/');
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
});
});
