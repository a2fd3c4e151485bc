import { demoProducts, expect, gatewayUrl, resultsLoaded, test } from './support';

test('the shopper’s pages are readable before any script runs', async ({ browser, request }) => {
  const [product] = await demoProducts(request, { first: 1 });
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`/p/${product.slug}`);
  await expect(page.getByRole('heading', { level: 1, name: product.name })).toBeVisible();
  await expect(page.getByText(/^\$[\d,]+\.\d\d$/).first()).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Breadcrumb' })).toBeVisible();
  await page.goto('/search?q=phone');
  await expect(page.getByRole('heading', { level: 1 })).toContainText('phone');
  await expect(
    page.getByRole('region', { name: 'Results' }).getByRole('listitem').first(),
  ).toBeVisible();
  await context.close();
});

test('a rendered page comes alive without an error and without asking again', async ({
  page,
  request,
}) => {
  const [product] = await demoProducts(request, { first: 1 });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    // the demo pictures' host does not resolve here
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      problems.push(message.text());
    }
  });
  const asked: string[] = [];
  page.on('request', (sent) => {
    if (sent.url().startsWith(gatewayUrl)) asked.push(sent.url());
  });

  // each waits for the app to hydrate the server's markup (support.ts)
  await page.goto('/');
  await page.goto('/search?q=phone');
  await resultsLoaded(page);
  await page.goto(`/p/${product.slug}`);
  await expect(page.getByRole('heading', { level: 1, name: product.name })).toBeVisible();
  expect(problems).toEqual([]);
  expect(asked).toEqual([]);

  // and it is the app: a client-side navigation, then a query of its own
  await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link').last().click();
  await resultsLoaded(page);
  expect(asked.length).toBeGreaterThan(0);
  expect(problems).toEqual([]);
});
