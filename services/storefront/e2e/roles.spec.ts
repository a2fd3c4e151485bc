import {
  demoAccount,
  expect,
  register,
  seriousViolations,
  signIn,
  test,
  uniqueEmail,
  waitForApp,
} from './support';

test('the seller and admin areas are closed to a customer', async ({ page }) => {
  await register(page, uniqueEmail('customer'), 'Grace Hopper');
  await page.getByRole('button', { name: 'Hello, Grace Hopper' }).click();
  await expect(page.getByRole('link', { name: 'Seller area' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Admin area' })).toHaveCount(0);
  await page.goto('/seller');
  await expect(page.getByRole('heading', { name: 'This area is for sellers' })).toBeVisible();
  await page.goto('/admin');
  await expect(
    page.getByRole('heading', { name: 'This area is for administrators' }),
  ).toBeVisible();
});

test('a seller changes an offer and its stock, and adds a product', async ({ page }) => {
  await signIn(page, demoAccount('seller'));
  await page.getByRole('button', { name: /^Hello,/ }).click();
  await page.getByRole('link', { name: 'Seller area' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Seller area' })).toBeVisible();
  const products = page.getByRole('region', { name: /Your products/ });
  const first = products.getByRole('listitem').first();
  await expect(first).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);

  // a new price and availability for the first offer
  const name = (await first.getByRole('heading').textContent())!.trim();
  await first.getByRole('button', { name: `Change your offer on ${name}` }).click();
  const offer = page.getByRole('form', { name: `Your offer on ${name}` });
  await offer.getByLabel(/Price/).fill('12.3.4');
  await offer.getByRole('button', { name: 'Save offer' }).click();
  await expect(offer.getByText('Enter an amount such as 24.99')).toBeVisible();
  await offer.getByLabel(/Price/).fill('1234.50');
  await offer.getByLabel('Availability').selectOption({ label: 'Backorder' });
  expect(await seriousViolations(page)).toEqual([]);
  await offer.getByRole('button', { name: 'Save offer' }).click();
  await expect(offer).toHaveCount(0);
  const row = products.getByRole('listitem').filter({ hasText: name });
  await expect(row.getByText('$1,234.50')).toBeVisible();
  await expect(row.getByText('Backorder')).toBeVisible();

  // a delivery of 7 units of that offer's SKU (the inventory service): the row shows it
  const level = row.getByText(/ in stock · /);
  await expect(level).toBeVisible();
  const before = Number(((await level.textContent()) ?? '').split(' ')[0].replace(/,/g, ''));
  await row.getByRole('button', { name: `Adjust your stock of ${name}` }).click();
  const stock = page.getByRole('form', { name: `Your stock of ${name}` });
  await stock.getByLabel('Units to add').fill('0');
  await stock.getByRole('button', { name: 'Save stock' }).click();
  await expect(stock.getByText('Use a number other than 0')).toBeVisible();
  await stock.getByLabel('Units to add').fill('7');
  await stock.getByLabel('Reason').fill('delivery');
  await stock.getByRole('button', { name: 'Save stock' }).click();
  await expect(stock).toHaveCount(0);
  await expect(row.getByText(`${(before + 7).toLocaleString('en-US')} in stock · `)).toBeVisible();

  // the server's field error (a SKU another product has) shows under its field
  const takenSku = /SKU (\S+)/.exec((await first.getByText(/ · SKU /).textContent()) ?? '')![1];
  await page.getByRole('button', { name: 'New product' }).click();
  const form = page.getByRole('form', { name: 'New product' });
  await form.getByLabel('Product name').fill('Trail lantern');
  await form.getByLabel('Brand').fill('Lumen Works');
  await form.getByLabel('Category').selectOption({ index: 1 });
  await form.getByLabel('Product SKU').fill(takenSku);
  await form.getByLabel('Your offer’s SKU').fill(`${takenSku}-X`);
  await form.getByLabel(/Price/).fill('39.90');
  await form.getByRole('button', { name: 'Add product' }).click();
  await expect(form.getByRole('alert')).toHaveText('Please check the highlighted fields.');
  await expect(form.getByLabel('Product SKU')).toHaveAttribute('aria-invalid', 'true');
  expect(await seriousViolations(page)).toEqual([]);

  const sku = `LW-${Date.now().toString(36)}`;
  await form.getByLabel('Product SKU').fill(sku);
  await form.getByLabel('Your offer’s SKU').fill(`${sku}-OFFER`);
  await form.getByRole('button', { name: 'Add product' }).click();
  await expect(
    page.getByRole('status').filter({ hasText: 'Your product was added' }),
  ).toBeVisible();
  const added = products.getByRole('listitem').filter({ hasText: `SKU ${sku}-OFFER` });
  await expect(added.getByRole('heading', { name: 'Trail lantern' })).toBeVisible();
  await expect(added.getByText('you own this product')).toBeVisible();

  // an owned product can be archived; it leaves the list
  await added.getByRole('button', { name: 'Archive Trail lantern' }).click();
  await added.getByRole('button', { name: 'Yes, archive' }).click();
  await expect(products.getByRole('listitem').filter({ hasText: `SKU ${sku}-OFFER` })).toHaveCount(
    0,
  );
});

test('an admin grants and revokes roles', async ({ browser, page }) => {
  // an account to change
  const customer = waitForApp(await browser.newPage());
  const email = uniqueEmail('promoted');
  await register(customer, email, 'Katherine Johnson');
  await customer.close();

  await signIn(page, demoAccount('admin'));
  await page.getByRole('button', { name: /^Hello,/ }).click();
  await page.getByRole('link', { name: 'Admin area' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Admin area' })).toBeVisible();
  const accounts = page.getByRole('region', { name: /Accounts/ });
  await expect(accounts.getByRole('listitem').first()).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);

  // only sellers
  await accounts.getByLabel('Show').selectOption({ label: 'Sellers' });
  await expect(accounts.getByText('seller@emporium.example')).toBeVisible();
  await expect(accounts.getByText('admin@emporium.example')).toHaveCount(0);

  // make the new account a seller of a chosen seller, then take the role back
  await accounts.getByLabel('Show').selectOption({ label: 'Every account' });
  let row = accounts.getByRole('listitem').filter({ hasText: email });
  if ((await row.count()) === 0) {
    await accounts.getByRole('button', { name: 'Show more' }).click();
    row = accounts.getByRole('listitem').filter({ hasText: email });
  }
  await row.getByRole('button', { name: `Make ${email} a seller` }).click();
  const grant = row.getByRole('form', { name: `Make ${email} a seller` });
  await grant.getByRole('button', { name: 'Make seller' }).click();
  await expect(grant.getByText('Choose the seller this account acts for')).toBeVisible();
  await grant.getByLabel('Acts for seller').selectOption({ index: 1 });
  await grant.getByRole('button', { name: 'Make seller' }).click();
  await expect(row.getByText(/Seller · seller \S+/)).toBeVisible();
  await row.getByRole('button', { name: `Remove seller role from ${email}` }).click();
  await expect(row.getByText(/^Katherine Johnson · Customer$/)).toBeVisible();

  await row.getByRole('button', { name: `Make ${email} an admin` }).click();
  await expect(row.getByText(/Customer, Admin|Admin, Customer/)).toBeVisible();
  await row.getByRole('button', { name: `Remove admin role from ${email}` }).click();
  await expect(row.getByText(/^Katherine Johnson · Customer$/)).toBeVisible();
});
