import {
  expect,
  gql,
  register,
  resultsLoaded,
  seriousViolations,
  test,
  uniqueEmail,
} from './support';

async function firstProductSlug(request: Parameters<typeof gql>[0]): Promise<string> {
  const data = await gql<{ search: { edges: { node: { slug: string } }[] } }>(
    request,
    '{ search(query: "phone", first: 1) { edges { node { slug } } } }',
  );
  return data.search.edges[0].node.slug;
}

test.describe('no serious or critical accessibility violations', () => {
  test('home', async ({ page }) => {
    await page.goto('/');
    await expect(page.getByRole('heading', { name: 'Shop by category' })).toBeVisible();
    await expect(page.getByRole('link', { name: 'Shop all Electronics' })).toBeVisible();
    expect(await seriousViolations(page)).toEqual([]);
  });

  test('search results, with the suggestion list open', async ({ page }) => {
    await page.goto('/search?q=phone&brand=Nordlys');
    await resultsLoaded(page);
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('combobox', { name: 'Search Emporium' }).fill('nord');
    await expect(
      page.getByRole('listbox', { name: 'Suggestions' }).getByRole('option').first(),
    ).toBeVisible();
    expect(await seriousViolations(page)).toEqual([]);
  });

  test('category page with the category menu open', async ({ page }) => {
    await page.goto('/c/electronics');
    await resultsLoaded(page);
    await page.getByRole('button', { name: 'All categories' }).click();
    expect(await seriousViolations(page)).toEqual([]);
  });

  test('product page', async ({ page, request }) => {
    await page.goto(`/p/${await firstProductSlug(request)}`);
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    await expect(page.getByRole('region', { name: /Offers from/ })).toBeVisible();
    expect(await seriousViolations(page)).toEqual([]);
  });

  test('empty results and not found', async ({ page }) => {
    await page.goto('/search?q=xonora');
    await expect(page.getByText(/Did you mean/)).toBeVisible();
    expect(await seriousViolations(page)).toEqual([]);
    await page.goto('/nowhere');
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    expect(await seriousViolations(page)).toEqual([]);
  });

  test('sign-in and registration, with errors shown', async ({ page }) => {
    await page.goto('/account/sign-in');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByText('Enter your email address')).toBeVisible();
    expect(await seriousViolations(page)).toEqual([]);
    await page.goto('/account/register');
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page.getByText('Enter your email address')).toBeVisible();
    expect(await seriousViolations(page)).toEqual([]);
  });

  test('profile and addresses', async ({ page }) => {
    await register(page, uniqueEmail('a11y'), 'Alan Turing');
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Hello, Alan Turing' }).click();
    await page.getByRole('link', { name: 'Your addresses' }).click();
    await page.getByRole('button', { name: 'Add an address' }).click();
    await page.getByRole('button', { name: 'Add address' }).click();
    await expect(page.getByText('Choose a country')).toBeVisible();
    expect(await seriousViolations(page)).toEqual([]);
  });
});

test('the keyboard reaches search, menus and results', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('link', { name: 'Shop all Electronics' })).toBeVisible();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Emporium' }).first()).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('combobox', { name: 'Search Emporium' })).toBeFocused();
  await page.keyboard.type('phone');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/search\?q=phone/);
  await resultsLoaded(page);
  // the category menu opens and closes from the keyboard, focus returns to its button
  const menuButton = page.getByRole('button', { name: 'All categories' });
  await menuButton.focus();
  await page.keyboard.press('Enter');
  await expect(menuButton).toHaveAttribute('aria-expanded', 'true');
  await page.keyboard.press('Escape');
  await expect(menuButton).toHaveAttribute('aria-expanded', 'false');
  await expect(menuButton).toBeFocused();
  // facets are plain checkboxes: Space toggles one
  const checkbox = page
    .getByRole('complementary', { name: 'Filters' })
    .getByRole('checkbox')
    .first();
  await checkbox.focus();
  await page.keyboard.press('Space');
  await expect(page).toHaveURL(/brand=/);
  await expect(checkbox).toBeChecked();
});
