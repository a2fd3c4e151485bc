import {
  addToCart,
  demoProducts,
  expect,
  expectCartCount,
  PASSWORD,
  register,
  seriousViolations,
  signOut,
  test,
  uniqueEmail,
} from './support';

// long journeys through every service, on a machine shared with them: three times the timeout
test.slow();

test('a guest cart: add, live in a second tab, quantities, coupons, save for later, merged at sign-in', async ({
  page,
  context,
  request,
}) => {
  const [lamp, other] = await demoProducts(request);
  // an account to sign in to later, with nothing in its cart
  const email = uniqueEmail('cart');
  await register(page, email, 'Grace Hopper');
  await signOut(page);

  await page.goto('/');
  await expectCartCount(page, 0);
  await addToCart(page, lamp, 2);
  await expectCartCount(page, 2);
  await addToCart(page, other);
  await expectCartCount(page, 3);

  // the cart token is the guest cart's own key: kept apart from any session, never in a URL
  const token = await page.evaluate(() => localStorage.getItem('emporium.cart'));
  expect(token).toMatch(/^[\w-]{40,}$/);

  await page.getByRole('link', { name: 'Cart, 3 items' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Your cart' })).toBeVisible();
  const lampLine = page.getByRole('listitem', { name: lamp.name });
  await expect(lampLine.getByLabel(`Quantity of ${lamp.name}`)).toHaveValue('2');
  await expect(page.getByRole('region', { name: 'Order summary' })).toContainText(
    'Subtotal (3 items)',
  );
  expect(await seriousViolations(page)).toEqual([]);

  // a change in another tab shows here, through the cart's live stream
  const second = await context.newPage();
  await second.goto('/cart');
  await second
    .getByRole('listitem', { name: lamp.name })
    .getByLabel(`Quantity of ${lamp.name}`)
    .selectOption('4');
  await expectCartCount(page, 5);
  await expect(lampLine.getByLabel(`Quantity of ${lamp.name}`)).toHaveValue('4');
  await second.close();

  // coupons: the service's reason for a refusal, then a discount it explains
  await page.getByLabel('Coupon code').fill('NO-SUCH-CODE');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page.getByLabel('Coupon code')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByText('No such coupon')).toBeVisible();
  await page.getByLabel('Coupon code').fill('welcome10');
  await page.getByRole('button', { name: 'Apply' }).click();
  const summary = page.getByRole('region', { name: 'Order summary' });
  await expect(summary.getByRole('list', { name: 'Coupons on your cart' })).toContainText(
    'WELCOME10',
  );
  await expect(summary.getByText(/^−\$/).first()).toBeVisible();

  // save for later and back
  await lampLine.getByRole('button', { name: `Save for later: ${lamp.name}` }).click();
  const saved = page.getByRole('region', { name: 'Saved for later' });
  await expect(saved.getByRole('listitem', { name: lamp.name })).toBeVisible();
  await expectCartCount(page, 1);
  await saved.getByRole('button', { name: `Move to cart: ${lamp.name}` }).click();
  await expectCartCount(page, 5);

  // remove one line
  await page
    .getByRole('listitem', { name: other.name })
    .getByRole('button', { name: `Remove ${other.name}` })
    .click();
  await expectCartCount(page, 4);

  // sign in: the guest cart merges into the account's, with a report
  await page.getByRole('link', { name: 'Sign in to check out' }).click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const report = page.getByRole('region', {
    name: 'We added what you picked before signing in to your cart',
  });
  await expect(report).toContainText(`${lamp.name}: 4 added, 4 in your cart now`);
  await expect(report).toContainText('Coupon WELCOME10 carried over');
  await expectCartCount(page, 4);
  expect(await page.evaluate(() => localStorage.getItem('emporium.cart'))).toBeNull();

  // the account's cart follows the account: signed out it is gone, signed in it is back
  await signOut(page);
  await expectCartCount(page, 0);
});
