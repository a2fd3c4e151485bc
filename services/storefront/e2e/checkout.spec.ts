import { type Page } from '@playwright/test';
import {
  addToCart,
  expect,
  expectCartCount,
  PASSWORD,
  register,
  seriousViolations,
  signOut,
  stockedProducts,
  test,
  type DemoProduct,
  uniqueEmail,
} from './support';

// long journeys through every service, on a machine shared with them: three times the timeout
test.slow();

/** A new account, signed out again, then a guest cart holding `product`, then sign-in. */
async function guestThenSignIn(page: Page, product: DemoProduct, name: string) {
  const email = uniqueEmail('checkout');
  await register(page, email, name);
  await signOut(page);
  await addToCart(page, product);
  await expectCartCount(page, 1);
  await page.getByRole('link', { name: 'Cart, 1 item' }).click();
  await page.getByRole('link', { name: 'Sign in to check out' }).click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Checkout' })).toBeVisible();
  await expect(
    page.getByRole('region', { name: 'We added what you picked before signing in to your cart' }),
  ).toContainText(`${product.name}: 1 added, 1 in your cart now`);
  await expectCartCount(page, 1);
}

async function addAddress(page: Page) {
  const shipping = page.getByRole('region', { name: '1. Shipping address' });
  // the server's own checks show under their fields
  await shipping.getByLabel('Full name').fill('Ada Lovelace');
  await shipping.getByLabel('Address line 1').fill('1 Main Street');
  await shipping.getByLabel('City').fill('Berlin');
  await shipping.getByLabel('Postal code').fill('10115');
  await shipping.getByLabel('Country').selectOption('DE');
  await shipping.getByLabel('Phone').fill('+1 000 000 0000');
  await shipping.getByRole('button', { name: 'Use this address' }).click();
  await expect(shipping.getByText('This phone number does not exist')).toBeVisible();
  await shipping.getByLabel('Phone').fill('');
  await shipping.getByRole('button', { name: 'Use this address' }).click();
  await expect(shipping.getByRole('radio', { name: /Ada Lovelace/ })).toBeChecked();
}

test('browse, add to cart, sign in (the guest cart merges), check out: the order is confirmed', async ({
  page,
  request,
}) => {
  const [product] = await stockedProducts(request, 1);
  await page.goto('/');
  await page.getByRole('combobox', { name: 'Search Emporium' }).fill(product.name);
  await page.getByRole('combobox', { name: 'Search Emporium' }).press('Enter');
  await page.getByRole('link', { name: product.name }).first().click();
  await expect(page.getByRole('heading', { level: 1, name: product.name })).toBeVisible();
  await guestThenSignIn(page, product, 'Ada Lovelace');

  await addAddress(page);
  expect(await seriousViolations(page)).toEqual([]);
  const summary = page.getByRole('region', { name: 'Order summary' });
  await expect(summary).toContainText(`1 × ${product.name}`);
  const total = (await summary.getByTestId('cart-total').textContent()) ?? '';

  // one order, however often the button is pressed
  const placing = page.waitForResponse(
    (response) =>
      response.request().method() === 'POST' &&
      (response.request().postData() ?? '').includes('idempotencyKey'),
  );
  const button = page.getByRole('button', { name: `Place order · ${total}` });
  await button.dblclick();
  await placing;
  await expect(page).toHaveURL(/\/account\/orders\/[^/]+$/);
  await expect(page.getByTestId('order-status')).toHaveText('Confirmed', { timeout: 120_000 });
  await expect(page.getByText('Your order is confirmed.')).toBeVisible();
  // its lines name what was bought, as the cart did
  await expect(page.getByRole('region', { name: 'Items' })).toContainText(`1 × ${product.name}`);
  expect(await seriousViolations(page)).toEqual([]);
  const orderUrl = page.url();

  // the order history lists it once
  await page.goto('/account/orders');
  const orders = page.getByRole('list', { name: 'Your orders' }).getByRole('listitem');
  await expect(orders).toHaveCount(1);
  await expect(orders.first()).toContainText('Confirmed');
  await expect(orders.first()).toContainText(total);
  expect(await seriousViolations(page)).toEqual([]);
  await orders.first().getByRole('link').click();
  await expect(page).toHaveURL(orderUrl);
});

test('a declined card, with the keyboard alone: the order page says so in plain words', async ({
  page,
  request,
}) => {
  const [product] = await stockedProducts(request, 1);
  await guestThenSignIn(page, product, 'Alan Turing');
  await addAddress(page);

  // the payment choice and the order, by keyboard
  const declined = page.getByRole('radio', { name: /Test card: declined/ });
  await page.getByRole('radio', { name: /Visa ending 4242/ }).focus();
  await page.keyboard.press('ArrowDown');
  await expect(declined).toBeChecked();
  const place = page.getByRole('button', { name: /^Place order/ });
  for (
    let step = 0;
    step < 40 && !(await place.evaluate((el) => el === document.activeElement));
    step++
  ) {
    await page.keyboard.press('Tab');
  }
  await expect(place).toBeFocused();
  await page.keyboard.press('Enter');

  await expect(page).toHaveURL(/\/account\/orders\/[^/]+$/);
  await expect(page.getByTestId('order-status')).toHaveText('Payment declined', {
    timeout: 120_000,
  });
  await expect(
    page.getByText('Your card was declined. Nothing was charged. Please try another card.'),
  ).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);
  // the cart is still there to try again
  await page.getByRole('link', { name: 'Back to your cart' }).click();
  await expectCartCount(page, 1);
});
