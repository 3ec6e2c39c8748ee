import { test, expect, waitForHydration } from '../support/fixtures';
import { DEMO, signInAtProvider } from '../support/identity-provider';

// The profile page's notes come from the notes API (end2end/notes-api), an
// API of the app's own that the page calls through Portcullis's proxy. The
// canary hunt after every test (fixtures.ts) checks that none of the tokens
// the provider issued reached the page, its requests or the server log.

test('the profile page reads and adds notes through the API proxy, with no token in the page', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('link', { name: 'Continue with Local demo provider' }).click();
  await signInAtProvider(page, DEMO);
  await page.goto('/profile');
  await waitForHydration(page);

  const notes = page.getByRole('region', { name: 'Your notes' });
  await expect(notes.getByText('No notes yet.')).toBeVisible();

  const proxied: string[] = [];
  page.on('request', (request) => {
    if (request.url().includes('/api/remote/notes/')) proxied.push(request.headers()['authorization'] ?? '');
  });
  await notes.getByLabel('New note').fill('Buy milk');
  await notes.getByRole('button', { name: 'Add note' }).click();
  await expect(notes.getByTestId('notes')).toContainText('Buy milk');
  await expect(notes.getByLabel('New note')).toHaveValue('');
  await expect(notes.getByRole('status')).toHaveText('Note added.');

  // A note of only spaces is not sent: the browser's own check stops it.
  const sent = proxied.length;
  await notes.getByLabel('New note').fill('   ');
  await notes.getByRole('button', { name: 'Add note' }).click();
  expect(await notes.getByLabel('New note').evaluate((field: HTMLInputElement) => field.validity.valid)).toBe(false);
  expect(proxied.length).toBe(sent);
  await notes.getByLabel('New note').fill('');

  // Past the 5 s access-token lifetime: the server refreshes first.
  await page.waitForTimeout(6_000);
  await page.reload();
  await waitForHydration(page);
  await expect(notes.getByTestId('notes')).toContainText('Buy milk');
  await expect(notes.getByRole('alert')).toHaveCount(0);
  expect(proxied.length).toBeGreaterThan(0);
  expect(proxied.every((authorization) => authorization === ''), 'the page sent no Authorization').toBe(true);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the notes form is disabled and says why, so nothing is sent anywhere', async ({ page }) => {
    await page.goto('/');
    await page.getByRole('link', { name: 'Continue with Local demo provider' }).click();
    await signInAtProvider(page, DEMO);
    await page.goto('/profile');
    const notes = page.getByRole('region', { name: 'Your notes' });
    await expect(notes.getByText('it needs JavaScript')).toBeVisible();
    await expect(notes.getByLabel('New note')).toBeDisabled();
    await expect(notes.getByRole('button', { name: 'Add note' })).toBeDisabled();
  });
});
