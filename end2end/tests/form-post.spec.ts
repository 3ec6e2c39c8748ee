import { test, expect, waitForHydration } from '../support/fixtures';
import { DEMO, signInAtProvider } from '../support/identity-provider';

// This app's provider is on another site (localhost; the app is at
// 127.0.0.1) and answers with response_mode=form_post: its page posts the
// code back cross-site, and the browser keeps the SameSite=Lax session
// cookie (which binds the sign-in to this browser) out of that post.
test('a provider on another site that posts its answer back signs the visitor in', async ({ page }) => {
  const app = process.env.PORTCULLIS_FORM_POST_URL!;
  const callbackPosts: string[] = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && request.url().startsWith(`${app}/auth/callback/local`)) {
      callbackPosts.push(request.headers()['origin'] ?? '');
    }
  });

  await page.goto(`${app}/`);
  await waitForHydration(page);
  await page.getByRole('link', { name: 'Continue with Local demo provider' }).click();
  await expect(page).toHaveURL(/^http:\/\/localhost:\d+\//);
  await signInAtProvider(page, DEMO, app);

  await expect(page.getByRole('heading', { name: `Welcome back, ${DEMO.name}` })).toBeVisible();
  await expect(page).toHaveURL(`${app}/`);
  // The provider's post came from its site; Portcullis posted the same
  // answer again from its own, where the session cookie came along.
  expect(callbackPosts).toHaveLength(2);
  expect(callbackPosts[0]).toMatch(/^http:\/\/localhost:\d+$/);
  expect(callbackPosts[1]).toBe(app);
});
