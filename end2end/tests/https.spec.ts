import { test, expect, waitForHydration } from '../support/fixtures';
import { DEMO, confirmLogoutAtProvider, signInAtProvider } from '../support/identity-provider';

// The same app served over https, behind a TLS proxy (global setup): what
// only https shows, the `Secure`, `__Host-` session cookie.
test.use({ ignoreHTTPSErrors: true });

const httpsUrl = () => process.env.PORTCULLIS_HTTPS_URL!;

test('over https the __Host- session cookie is set at sign-in and gone after "Log out"', async ({ page, context }) => {
  await page.goto(`${httpsUrl()}/`);
  await page.getByRole('link', { name: 'Continue with Local demo provider' }).click();
  await signInAtProvider(page, DEMO, httpsUrl());
  await expect(page.getByRole('heading', { name: `Welcome back, ${DEMO.name}` })).toBeVisible();
  const session = (await context.cookies(httpsUrl())).find((c) => c.name === '__Host-portcullis');
  expect(session, 'the session cookie').toBeDefined();
  expect(session!.secure).toBe(true);
  expect(session!.httpOnly).toBe(true);

  await page.goto(`${httpsUrl()}/profile`);
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Log out' }).click();
  await confirmLogoutAtProvider(page);
  const left = (await context.cookies(httpsUrl())).filter((c) => c.name === '__Host-portcullis');
  expect(left, 'the browser dropped the session cookie').toEqual([]);
  await page.goto(`${httpsUrl()}/profile`);
  await expect(page.getByRole('heading', { name: 'You are not signed in' })).toBeVisible();
});
