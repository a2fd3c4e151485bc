import { expect, resultCount, resultsLoaded, test } from './support';

test('browse a category, filter by a facet, open a product', async ({ page }) => {
  await page.goto('/');
  await page
    .getByRole('navigation', { name: 'Categories' })
    .getByRole('link', { name: 'Electronics' })
    .click();
  await expect(page).toHaveURL(/\/c\/electronics$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Electronics' })).toBeVisible();
  await resultsLoaded(page);
  const everything = await resultCount(page);

  // a brand facet narrows the results and goes into the URL
  const filters = page.getByRole('complementary', { name: 'Filters' });
  const brand = filters.getByRole('group', { name: 'Brand' }).getByRole('checkbox').first();
  const brandName = ((await brand.locator('xpath=..').textContent()) ?? '')
    .replace(/\d+$/, '')
    .trim();
  await brand.click();
  await expect(brand).toBeChecked();
  await expect(page).toHaveURL(new RegExp(`brand=${encodeURIComponent(brandName)}`));
  const results = await resultsLoaded(page);
  await expect.poll(() => resultCount(page)).toBeLessThan(everything);
  const brands = await results.locator('article p:first-child').allTextContents();
  expect(new Set(brands.map((b) => b.toLowerCase()))).toEqual(new Set([brandName.toLowerCase()]));
  await expect(
    page.getByRole('button', { name: `Remove filter Brand: ${brandName}` }),
  ).toBeVisible();

  // the back button undoes the filter, forward brings it back
  await page.goBack();
  await expect(page).toHaveURL(/\/c\/electronics$/);
  await expect.poll(() => resultCount(page)).toBe(everything);
  await page.goForward();
  await expect(filters.getByRole('checkbox', { name: new RegExp(brandName) })).toBeChecked();

  // a shared link shows the same page
  const shared = page.url();
  const fresh = await page.context().newPage();
  await fresh.goto(shared);
  await expect(
    fresh
      .getByRole('complementary', { name: 'Filters' })
      .getByRole('checkbox', { name: new RegExp(brandName) }),
  ).toBeChecked();
  await fresh.close();

  // open the first product
  const firstLink = (await resultsLoaded(page)).getByRole('listitem').first().getByRole('link');
  const productName = (await firstLink.textContent())!.trim();
  await firstLink.click();
  await expect(page).toHaveURL(/\/p\//);
  await expect(page.getByRole('heading', { level: 1, name: productName })).toBeVisible();
  const crumbs = page.getByRole('navigation', { name: 'Breadcrumb' });
  await expect(crumbs.getByRole('link', { name: 'Electronics' })).toBeVisible();
  await expect(page.getByText(/^\$[\d,]+\.\d\d$/).first()).toBeVisible();
});

test('an unknown product says so', async ({ page }) => {
  await page.goto('/p/no-such-product-anywhere');
  await expect(
    page.getByRole('heading', { level: 1, name: 'We could not find that page' }),
  ).toBeVisible();
});
