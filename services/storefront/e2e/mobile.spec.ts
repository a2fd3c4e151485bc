import { expect, resultCount, resultsLoaded, test } from './support';

test('a phone-sized journey: menu, category, filters dialog, product', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  // the category bar's links are hidden on phones; the drawer has them all
  await page.getByRole('button', { name: 'All categories' }).click();
  const drawer = page
    .locator('nav[aria-label="Categories"] [id]')
    .filter({ hasText: 'All categories' });
  await expect(drawer).toBeVisible();
  await drawer.getByRole('link', { name: 'Phones', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Phones' })).toBeVisible();
  await expect(drawer).toBeHidden();
  await resultsLoaded(page);
  const everything = await resultCount(page);

  // the facets live in a dialog on phones
  await expect(page.getByRole('complementary', { name: 'Filters' })).toBeHidden();
  await page.getByRole('button', { name: 'Filters' }).click();
  const dialog = page.getByRole('dialog', { name: 'Filters' });
  await expect(dialog).toBeVisible();
  // the URL is the state: the box shows checked once the navigation has happened
  const inStock = dialog
    .getByRole('group', { name: 'Availability' })
    .getByRole('checkbox', { name: /In stock/ });
  await inStock.click();
  await expect(inStock).toBeChecked();
  await expect(page).toHaveURL(/availability=in-stock/);
  await dialog.getByRole('button', { name: /^Show [\d,]+ results$/ }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole('button', { name: 'Filters (1)' })).toBeVisible();
  await expect.poll(() => resultCount(page)).toBeLessThanOrEqual(everything);

  const results = await resultsLoaded(page);
  const link = results.getByRole('listitem').first().getByRole('link');
  const name = (await link.textContent())!.trim();
  await link.click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
  // nothing wider than the screen
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - window.innerWidth,
  );
  expect(overflow).toBeLessThanOrEqual(0);
});
