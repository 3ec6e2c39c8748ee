import { test, expect, waitForHydration } from '../support/fixtures';

test.describe('the content security policy', () => {
  // The blocked script below is reported on the console, on purpose.
  test.use({ expectedConsoleErrors: [/Content Security Policy|status of 404/] });

  test('lets the app hydrate but blocks a script without the nonce', async ({ page }) => {
    const violations: string[] = [];
    await page.exposeFunction('reportViolation', (directive: string) => violations.push(directive));
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) =>
        (window as unknown as { reportViolation: (d: string) => void }).reportViolation(event.violatedDirective),
      );
    });
    await page.goto('/');
    await waitForHydration(page);
    // The hydrated app works: a server function answers.
    await page.getByRole('button', { name: 'Check service status' }).click();
    await expect(page.getByRole('status')).toContainText('Online');
    expect(violations, 'the app itself breaks no rule').toEqual([]);

    // Injected markup with an inline handler (the classic XSS) does not run.
    await page.evaluate(() => {
      document.body.insertAdjacentHTML(
        'beforeend',
        '<img src="/missing-image.png" alt="" onerror="window.injected = true">',
      );
    });
    await expect.poll(() => violations).toContain('script-src-attr');
    const ran = await page.evaluate(() => (window as unknown as { injected?: boolean }).injected === true);
    expect(ran).toBe(false);
  });
});

test('pages cannot be framed by another site', async ({ page }) => {
  const response = await page.goto('/');
  const headers = response!.headers();
  expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
  expect(headers['x-frame-options']).toBe('DENY');
  expect(headers['x-content-type-options']).toBe('nosniff');
});
