import { type Page } from '@playwright/test';
import { expect, PASSWORD, register, test, uniqueEmail, waitForApp } from './support';

async function signOut(page: Page) {
  await page.getByRole('button', { name: /^Hello,/ }).click();
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page.getByRole('link', { name: 'Sign in' })).toBeVisible();
}

/** Nothing page script can read holds the refresh token. */
async function expectNoRefreshTokenInPageStorage(page: Page) {
  const stored = await page.evaluate(() => ({
    cookies: document.cookie,
    local: JSON.stringify({ ...localStorage }),
    session: JSON.stringify({ ...sessionStorage }),
  }));
  const cookies = await page.context().cookies();
  const refresh = cookies.find((cookie) => cookie.name === 'emporium_refresh');
  expect(refresh).toBeDefined();
  expect(refresh!.httpOnly).toBe(true);
  expect(refresh!.sameSite).toBe('Strict');
  expect(refresh!.path).toBe('/auth/session');
  for (const place of Object.values(stored)) expect(place).not.toContain(refresh!.value);
}

test('register, sign in, edit the profile, add an address, sign out', async ({ page }) => {
  const email = uniqueEmail('e2e');
  await register(page, email, 'Ada Lovelace');
  await expect(page.getByRole('button', { name: 'Hello, Ada Lovelace' })).toBeVisible();
  await expectNoRefreshTokenInPageStorage(page);

  // a reload keeps the session (the cookie's silent refresh)
  await page.reload();
  await expect(page.getByRole('button', { name: 'Hello, Ada Lovelace' })).toBeVisible();
  await signOut(page);

  // sign in again, arriving where sign-in was asked for
  await page.goto('/account/addresses');
  await expect(page).toHaveURL(/\/account\/sign-in\?next=%2Faccount%2Faddresses/);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('not the password at all');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('The email or password is incorrect.');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Addresses' })).toBeVisible();

  // profile: a field error from the server, then a saved change
  await page
    .getByRole('navigation', { name: 'Account' })
    .getByRole('link', { name: 'Profile' })
    .click();
  const phone = page.getByLabel('Phone');
  await phone.fill('+1 000 000 0000');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(phone).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByText('This phone number does not exist')).toBeVisible();
  await phone.fill('+1 415 555 2671');
  await page.getByLabel('Name').fill('Ada King');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByText('Your profile was saved.')).toBeVisible();
  await expect(phone).toHaveValue('+14155552671');
  await expect(page.getByRole('button', { name: 'Hello, Ada King' })).toBeVisible();

  // address book: the first address becomes both defaults
  await page
    .getByRole('navigation', { name: 'Account' })
    .getByRole('link', { name: 'Addresses' })
    .click();
  await page.getByRole('button', { name: 'Add an address' }).click();
  const form = page.getByRole('region', { name: 'New address' });
  await form.getByLabel('Full name').fill('Ada King');
  await form.getByLabel('Address line 1').fill('12 St James’s Square');
  await form.getByLabel('City').fill('London');
  await form.getByLabel('Postal code').fill('SW1Y 4JH');
  await form.getByLabel('Country').selectOption('GB');
  await form.getByRole('button', { name: 'Add address' }).click();
  const card = page.getByRole('listitem').filter({ hasText: '12 St James’s Square' });
  await expect(card).toContainText('United Kingdom');
  await expect(card).toContainText('Default shipping');
  await expect(card).toContainText('Default billing');
  await page.reload();
  await expect(
    page.getByRole('listitem').filter({ hasText: '12 St James’s Square' }),
  ).toBeVisible();

  await signOut(page);
  await page.goto('/account');
  await expect(page).toHaveURL(/\/account\/sign-in/);
});

test('the server’s field errors show on the registration form', async ({ page }) => {
  await page.goto('/account/register');
  await page.getByLabel('Email').fill(uniqueEmail('common'));
  // long enough for the form's own checks, but on identity's list of common passwords
  await page.getByLabel('Password').fill('password1234');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByLabel('Password')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByText('This password is too common; choose another')).toBeVisible();
});

test('sign out everywhere ends the other devices’ sessions', async ({ page, browser }) => {
  const email = uniqueEmail('everywhere');
  await register(page, email, 'Grace Hopper');
  const other = await browser.newContext();
  const phone = waitForApp(await other.newPage());
  await phone.goto('/account/sign-in');
  await phone.getByLabel('Email').fill(email);
  await phone.getByLabel('Password').fill(PASSWORD);
  await phone.getByRole('button', { name: 'Sign in' }).click();
  await expect(phone.getByRole('heading', { level: 1, name: 'Profile' })).toBeVisible();

  await page.getByRole('button', { name: 'Sign out everywhere' }).click();
  await expect(page.getByRole('link', { name: 'Sign in' })).toBeVisible();
  // the other device's cookie no longer refreshes: a reload finds it signed out
  await phone.reload();
  await expect(phone).toHaveURL(/\/account\/sign-in/);
  await other.close();
});
