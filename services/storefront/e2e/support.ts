import { expect, type APIRequestContext, type Page } from '@playwright/test';

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
