import AxeBuilder from '@axe-core/playwright';
import { test as base, expect, type APIRequestContext, type Page } from '@playwright/test';

/**
 * The shopper's pages arrive rendered by the server and come alive once the app has hydrated
 * them (\`html[data-app="ready"]\`): a page's navigations wait for that here, so a test's
 * first click or keystroke reaches the app, not markup without it.
 */
export function waitForApp(page: Page): Page {
  const live = () => page.locator('html[data-app="ready"]').waitFor({ state: 'attached' });
  const goto = page.goto.bind(page);
  const reload = page.reload.bind(page);
  page.goto = async (...args: Parameters<Page['goto']>) => {
    const response = await goto(...args);
    await live();
    return response;
  };
  page.reload = async (...args: Parameters<Page['reload']>) => {
    const response = await reload(...args);
    await live();
    return response;
  };
  return page;
}

/** Playwright's test, with every page of its browser context waiting for the app. */
export const test = base.extend({
  context: async ({ context }, provide) => {
    context.on('page', waitForApp);
    await provide(context);
  },
});

export { expect };

export const gatewayUrl = process.env.EMPORIUM_GATEWAY_URL ?? 'http://127.0.0.1:4000/graphql';

/** A query straight to the gateway, to learn what the demo data holds. */
export async function gql<T>(
  request: APIRequestContext,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  const response = await request.post(gatewayUrl, { data: { query, variables } });
  expect(response.ok()).toBeTruthy();
  const body = (await response.json()) as { data?: T; errors?: unknown };
  expect(body.errors).toBeUndefined();
  return body.data as T;
}

export function uniqueEmail(label: string): string {
  return `${label}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}@example.com`;
}

export const PASSWORD = 'violet meadow lantern 42';

/** The results grid once a search or category page has answered. */
export async function resultsLoaded(page: Page) {
  const results = page.getByRole('region', { name: 'Results' });
  await expect(results).toHaveAttribute('aria-busy', 'false');
  await expect(results.getByRole('listitem').first()).toBeVisible();
  return results;
}

/** The number in "1,234 results". */
export async function resultCount(page: Page): Promise<number> {
  const text = await page.getByText(/^[\d,]+ results?$/).textContent();
  return Number((text ?? '').replace(/[^\d]/g, ''));
}

export async function register(page: Page, email: string, name: string) {
  await page.goto('/account/register');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Profile' })).toBeVisible();
}

/** axe's serious and critical findings on the page as it is now (WCAG 2.1 A/AA, best practice). */
export async function seriousViolations(page: Page) {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'])
    .analyze();
  return results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      targets: violation.nodes.map((node) => node.target.join(' ')),
    }));
}

/**
 * A demo account identity's seed made (admin, seller or customer @emporium.example), with the
 * password the seed printed, handed over by the test run (EMPORIUM_E2E_ACCOUNTS).
 */
export function demoAccount(kind: 'admin' | 'seller' | 'customer') {
  const accounts = JSON.parse(process.env.EMPORIUM_E2E_ACCOUNTS ?? '{}') as Record<string, string>;
  const email = `${kind}@emporium.example`;
  const password = accounts[email];
  if (!password) throw new Error(`EMPORIUM_E2E_ACCOUNTS has no password for ${email}`);
  return { email, password };
}

export async function signIn(page: Page, account: { email: string; password: string }) {
  await page.goto('/account/sign-in');
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Profile' })).toBeVisible();
}

export interface DemoProduct {
  slug: string;
  name: string;
  sku: string;
  price: number;
}

type SearchNode = { slug: string; name: string; sku: string; price: { amount: number } };

/** In-stock demo products (by the catalog) between `minPrice` and `maxPrice`, minor units. */
export async function demoProducts(
  request: APIRequestContext,
  { minPrice = 1500, maxPrice = 20000, first = 20 } = {},
): Promise<DemoProduct[]> {
  const { search } = await gql<{ search: { edges: { node: SearchNode }[] } }>(
    request,
    `query($f: SearchFilter, $n: Int) { search(filter: $f, sort: PRICE_ASC, first: $n) {
       edges { node { slug name sku price { amount } } } } }`,
    { f: { availability: ['IN_STOCK'], minPrice, maxPrice }, n: first },
  );
  return search.edges.map(({ node }) => ({ ...node, price: node.price.amount }));
}

/**
 * `count` demo products the inventory holds stock for: it learns the demo SKUs from the
 * catalog's events, which it works through for a while after the seed.
 */
export async function stockedProducts(
  request: APIRequestContext,
  count: number,
): Promise<DemoProduct[]> {
  const candidates = await demoProducts(request, { first: 50 });
  const picked: DemoProduct[] = [];
  await expect
    .poll(
      async () => {
        for (const product of candidates) {
          if (picked.length === count) break;
          if (picked.includes(product)) continue;
          const { inventoryStock } = await gql<{ inventoryStock: { available: number } | null }>(
            request,
            'query($s: ID!) { inventoryStock(sku: $s) { available } }',
            { s: product.sku },
          );
          if ((inventoryStock?.available ?? 0) > 5) picked.push(product);
        }
        return picked.length;
      },
      { timeout: 300_000, intervals: [2_000] },
    )
    .toBe(count);
  return picked;
}

/** The header's cart badge says `count` items. */
export async function expectCartCount(page: Page, count: number) {
  await expect(
    page.getByRole('link', { name: `Cart, ${count} ${count === 1 ? 'item' : 'items'}` }),
  ).toBeVisible();
}

export async function addToCart(page: Page, product: DemoProduct, quantity = 1) {
  await page.goto(`/p/${product.slug}`);
  await expect(page.getByRole('heading', { level: 1, name: product.name })).toBeVisible();
  if (quantity !== 1) await page.getByLabel('Quantity').selectOption(String(quantity));
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await expect(page.getByText(/^Added to your cart/)).toBeVisible();
}

export async function signOut(page: Page) {
  await page.getByRole('button', { name: /^Hello,/ }).click();
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page.getByRole('link', { name: 'Sign in' })).toBeVisible();
}
