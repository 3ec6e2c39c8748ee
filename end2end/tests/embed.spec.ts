import { test, expect } from '../support/fixtures';
import { ALICE, signInAtProvider } from '../support/identity-provider';

// The embedding example (server/examples/embed.rs): a plain Axum app whose
// account page calls the app's own notes API through Portcullis's proxy
// from a script. The canary hunt after every test (fixtures.ts) checks that
// no token the provider issued reached the page, its requests or the log.

// The example is a minimal app: it has no favicon, which the browser asks for.
test.use({ expectedConsoleErrors: [/\/favicon\.ico/] });

test('the embedding example signs in and its page reads the notes API through the proxy', async ({ page }) => {
  const embed = process.env.PORTCULLIS_EMBED_URL!;
  await page.goto(`${embed}/account`);
  await page.getByRole('link', { name: 'Continue with Local demo provider' }).click();
  await signInAtProvider(page, ALICE, embed);
  await expect(page.getByRole('heading', { name: 'Your account' })).toBeVisible();
  await expect(page.locator('#notes')).toHaveText('No notes yet.');
});
