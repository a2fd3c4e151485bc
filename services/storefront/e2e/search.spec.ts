import { expect, gql, resultCount, resultsLoaded, test } from './support';

test('search with suggestions from the search box', async ({ page }) => {
  await page.goto('/');
  const box = page.getByRole('combobox', { name: 'Search Emporium' });
  await box.fill('nord');
  const list = page.getByRole('listbox', { name: 'Suggestions' });
  await expect(list.getByRole('option').first()).toBeVisible();
  // arrow keys move through the suggestions, Enter opens the highlighted one
  const product = list.getByRole('option').filter({ hasNotText: 'Brand' }).first();
  const productName = ((await product.textContent()) ?? '').trim();
  const index = await list
    .getByRole('option')
    .evaluateAll(
      (options, name) => options.findIndex((o) => o.textContent?.trim() === name),
      productName,
    );
  for (let i = 0; i <= index; i += 1) await box.press('ArrowDown');
  await expect(list.getByRole('option', { name: productName, exact: true })).toHaveAttribute(
    'aria-selected',
    'true',
  );
  await box.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: productName })).toBeVisible();

  // a typed query and Enter: the results page, with the query in the URL
  await box.fill('phone');
  await box.press('Enter');
  await expect(page).toHaveURL(/\/search\?q=phone$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Results for “phone”' })).toBeVisible();
  await resultsLoaded(page);
  expect(await resultCount(page)).toBeGreaterThan(0);

  // sorting is part of the URL too
  await page.getByLabel('Sort by').selectOption({ label: 'Price: low to high' });
  await expect(page).toHaveURL(/sort=price-asc/);
  const prices = await (await resultsLoaded(page)).locator('article p.text-lg').allTextContents();
  const amounts = prices.map((p) => Number(p.replace(/[^\d.]/g, '')));
  expect(amounts).toEqual([...amounts].sort((a, b) => a - b));
});

test('a misspelled search offers the correction', async ({ page, request }) => {
  const probe = await gql<{ search: { didYouMean: string | null } }>(
    request,
    'query($q: String) { search(query: $q, first: 1) { didYouMean } }',
    { q: 'xonora' },
  );
  expect(probe.search.didYouMean).toBeTruthy();
  await page.goto('/search?q=xonora');
  await expect(page.getByText('No results for “xonora”. Did you mean')).toBeVisible();
  await page.getByRole('link', { name: probe.search.didYouMean! }).click();
  await expect(page).toHaveURL(new RegExp(`q=${probe.search.didYouMean}`));
  await resultsLoaded(page);
});

test('filters that match nothing explain themselves', async ({ page }) => {
  await page.goto('/search?q=phone&price=1-2');
  await expect(page.getByText('No products match these filters.')).toBeVisible();
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await expect(page).toHaveURL(/\/search\?q=phone$/);
  await resultsLoaded(page);
});
