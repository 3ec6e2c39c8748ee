import { test, expect } from '../support/fixtures';
import { DEMO, signInAtProvider } from '../support/identity-provider';

// A sign-in link with prompt=none (OpenID Connect Core §3.1.2.1) signs in
// a visitor who has a session at the provider without showing a page, and
// shows the provider's login page only when the provider needs them.
test('a silent sign-in shows the provider\'s login page only when the provider needs the visitor', async ({ page, context }) => {
  const providerPages: string[] = [];
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame() && frame.url().includes('/interaction/')) providerPages.push(frame.url());
  });

  // No session at the provider yet: it answers login_required, and the
  // sign-in goes on to its login form instead of an error page.
  await page.goto('/auth/sign-in/local?prompt=none&return_to=/profile');
  await signInAtProvider(page);
  await expect(page).toHaveURL('/profile');
  await expect(page.getByRole('heading', { name: DEMO.name })).toBeVisible();
  expect(providerPages.length).toBeGreaterThan(0);

  // This site's session is gone, the provider's is not: signed in again
  // without a single page of the provider's.
  await context.clearCookies({ name: 'portcullis' });
  await page.goto('/profile');
  await expect(page.getByRole('heading', { name: 'You are not signed in' })).toBeVisible();
  providerPages.length = 0;
  await page.goto('/auth/sign-in/local?prompt=none&return_to=/profile');
  await expect(page).toHaveURL('/profile');
  await expect(page.getByRole('heading', { name: DEMO.name })).toBeVisible();
  expect(providerPages).toEqual([]);
});
