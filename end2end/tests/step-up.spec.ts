import { test, expect, waitForHydration } from '../support/fixtures';
import { DEMO, signInAtProvider } from '../support/identity-provider';

// A step-up (RecentSignIn in the library) sends a signed-in visitor to
// sign in again with max_age: the provider must show its login form again
// even though its own session is alive, and the visitor comes back to the
// page they were on.
test('a sign-in with max_age makes the provider ask again and comes back to the page', async ({ page }) => {
  await page.goto('/');
  await waitForHydration(page);
  await page.getByRole('link', { name: 'Continue with Local demo provider' }).click();
  await signInAtProvider(page);
  await expect(page.getByRole('heading', { name: `Welcome back, ${DEMO.name}` })).toBeVisible();

  // Without max_age, the provider's session signs the visitor in unseen.
  await page.goto('/auth/sign-in/local?prompt=none&return_to=/profile');
  await expect(page).toHaveURL('/profile');

  // With max_age=0, the provider asks for the password again.
  await page.goto('/auth/sign-in/local?max_age=0&return_to=/profile');
  await expect(page.locator('input[name=login]')).toBeVisible();
  await signInAtProvider(page);
  await expect(page).toHaveURL('/profile');
  await expect(page.getByRole('heading', { name: DEMO.name })).toBeVisible();
});
