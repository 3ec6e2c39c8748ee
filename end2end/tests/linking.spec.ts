import { test, expect, waitForHydration } from '../support/fixtures';
import { ALICE, DEMO, confirmLogoutAtProvider, signInAtProvider } from '../support/identity-provider';
import { signInAtGitHub } from '../support/fake-github';

test('a user connects GitHub, signs in with it to the same account, and disconnecting it ends that session', async ({ page }) => {
  await page.goto('/');
  await waitForHydration(page);
  await page.getByRole('link', { name: 'Continue with Local demo provider' }).click();
  await signInAtProvider(page, ALICE);

  await page.goto('/profile');
  const methods = page.getByRole('region', { name: 'Sign-in methods' });
  await expect(methods.getByTestId('identity')).toHaveCount(1);
  await expect(methods.getByRole('button', { name: /Disconnect/ })).toHaveCount(0);
  await waitForHydration(page);
  await methods.getByRole('button', { name: 'Connect GitHub' }).click();
  await signInAtGitHub(page, 'octocat');
  await expect(page).toHaveURL('/profile');
  await expect(methods.getByTestId('identity')).toHaveCount(2);
  await expect(methods.getByText('octocat@github.test')).toBeVisible();

  await page.getByRole('button', { name: 'Log out' }).click();
  await confirmLogoutAtProvider(page);

  // Signing in with GitHub now reaches the same account: both listed.
  await page.goto('/');
  await page.getByRole('link', { name: 'Continue with GitHub' }).click();
  await signInAtGitHub(page, 'octocat');
  await page.goto('/profile');
  await expect(page.getByTestId('provider')).toHaveText('GitHub');
  await expect(methods.getByTestId('identity')).toHaveCount(2);
  await expect(methods.getByText(ALICE.email)).toBeVisible();

  await waitForHydration(page);
  await methods.getByRole('button', { name: 'Disconnect GitHub' }).click();
  await expect(page).toHaveURL('/profile');
  // This session was signed in with GitHub: it ended with the identity.
  await expect(page.getByRole('heading', { name: 'You are not signed in' })).toBeVisible();
  await page.goto('/');
  await page.getByRole('link', { name: 'Continue with Local demo provider' }).click();
  const login = page.locator('input[name=login]');
  await Promise.race([login.waitFor({ state: 'visible' }), page.waitForURL((url) => url.pathname === '/')]);
  if (await login.isVisible()) await signInAtProvider(page, ALICE);
  await page.goto('/profile');
  await expect(methods.getByTestId('identity')).toHaveCount(1);
  await expect(methods.getByText(ALICE.email)).toBeVisible();
  // The last way to sign in cannot be disconnected.
  await expect(methods.getByRole('button', { name: /Disconnect/ })).toHaveCount(0);
  await expect(methods.getByRole('button', { name: 'Connect GitHub' })).toBeVisible();
});

test.describe('an e-mail that already has an account', () => {
  test.use({ expectedConsoleErrors: [/the server responded with a status of 409/] });

  test('signing in with a new provider explains how to connect it instead', async ({ page }) => {
    // Dana has an account through the local provider.
    await page.goto('/');
    await page.getByRole('link', { name: 'Continue with Local demo provider' }).click();
    await signInAtProvider(page, DEMO);
    await page.goto('/profile');
    await waitForHydration(page);
    await page.getByRole('button', { name: 'Log out' }).click();
    await confirmLogoutAtProvider(page);

    // Her GitHub account has the same verified address.
    await page.goto('/');
    await page.getByRole('link', { name: 'Continue with GitHub' }).click();
    await signInAtGitHub(page, 'dana');
    await expect(page.getByRole('heading', { name: 'This e-mail already has an account' })).toBeVisible();
    await expect(
      page.getByText(
        'This e-mail belongs to an account that uses Local demo provider. ' +
          'Log in with Local demo provider, then connect GitHub from your profile.',
      ),
    ).toBeVisible();
    await expect(page.getByTestId('error-code')).toHaveText('PC-AUTH-009');

    // The way forward works: log in the existing way (the provider still
    // knows Dana, so it may not ask again), land on the profile.
    await page.getByRole('link', { name: 'Log in with Local demo provider' }).click();
    const login = page.locator('input[name=login]');
    await Promise.race([login.waitFor({ state: 'visible' }), page.waitForURL('**/profile')]);
    if (await login.isVisible()) await signInAtProvider(page, DEMO);
    await expect(page).toHaveURL('/profile');
    await expect(page.getByRole('button', { name: 'Connect GitHub' })).toBeVisible();
  });
});
