#!/usr/bin/env node
// Screenshots of the main pages for docs/storefront.md, into docs/images/storefront/, taken
// with the system Chromium from a running shop with the demo data and demo accounts:
//
//   uv run python -m emporium_platform.shop node services/storefront/scripts/screenshots.mjs [SECTION...]
//
// SECTION: browse, roles, phone, checkout (default: all of them).
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, devices } from '@playwright/test';

const base = process.env.EMPORIUM_STOREFRONT_URL ?? 'http://127.0.0.1:4173';
const accounts = JSON.parse(process.env.EMPORIUM_E2E_ACCOUNTS ?? '{}');
const out = fileURLToPath(new URL('../../../docs/images/storefront/', import.meta.url));
mkdirSync(out, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
});

async function shot(page, name) {
  // nothing pending: the page's data has arrived and skeletons are gone
  await page.waitForLoadState('networkidle');
  await page.locator('[aria-busy="true"], .animate-pulse').first().waitFor({ state: 'detached' });
  await page.screenshot({ path: `${out}${name}.png` });
  console.log(`docs/images/storefront/${name}.png`);
}

async function signIn(page, email) {
  await page.goto(`${base}/account/sign-in`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(accounts[email]);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Profile' }).waitFor();
}

const sections = process.argv.slice(2);
const wanted = (section) => sections.length === 0 || sections.includes(section);

/** A shopper's cart with two products, the checkout, and the order it makes. */
async function checkout() {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  await signIn(page, 'customer@emporium.example');
  for (const query of ['phone case', 'headphones']) {
    await page.goto(
      `${base}/search?${new URLSearchParams({ q: query, availability: 'in-stock' })}`,
    );
    await page.getByRole('region', { name: 'Results' }).getByRole('link').first().click();
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByText(/^Added to your cart/).waitFor();
  }
  await page.goto(`${base}/cart`);
  await page.getByLabel('Coupon code').fill('WELCOME10');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.getByRole('list', { name: 'Coupons on your cart' }).waitFor();
  await shot(page, 'cart');
  await page.goto(`${base}/checkout`);
  const shipping = page.getByRole('region', { name: '1. Shipping address' });
  const fullName = shipping.getByLabel('Full name');
  await shipping.getByRole('radio').or(fullName).first().waitFor();
  if (await fullName.isVisible()) {
    await shipping.getByLabel('Full name').fill('Casey Customer');
    await shipping.getByLabel('Address line 1').fill('1 Main Street');
    await shipping.getByLabel('City').fill('Berlin');
    await shipping.getByLabel('Postal code').fill('10115');
    await shipping.getByLabel('Country').selectOption('DE');
    await shipping.getByRole('button', { name: 'Use this address' }).click();
  }
  await shipping.getByRole('radio', { checked: true }).waitFor();
  await shot(page, 'checkout');
  await page.getByRole('button', { name: /^Place order/ }).click();
  await page.getByTestId('order-status').getByText('Confirmed').waitFor({ timeout: 120_000 });
  await shot(page, 'order');
  await page.close();
}

try {
  if (wanted('checkout')) await checkout();
  if (wanted('browse')) await browse();
  if (wanted('roles')) await roles();
  if (wanted('phone')) await phone();
} finally {
  await browser.close();
}

async function browse() {
  const desktop = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  await desktop.goto(base);
  await shot(desktop, 'home');
  await desktop.goto(`${base}/c/electronics`);
  const brand = desktop.getByRole('group', { name: 'Brand' }).getByRole('checkbox').first();
  await brand.click();
  await shot(desktop, 'category');
  await desktop.goto(`${base}/search?q=phone`);
  await shot(desktop, 'search');
  await desktop.getByRole('combobox', { name: 'Search Emporium' }).fill('nord');
  await desktop.getByRole('listbox').waitFor();
  await shot(desktop, 'suggestions');
  await desktop.goto(`${base}/search?q=phone`);
  await desktop.getByRole('region', { name: 'Results' }).getByRole('link').first().click();
  await desktop.getByRole('navigation', { name: 'Breadcrumb' }).waitFor();
  await shot(desktop, 'product');
  await desktop.goto(`${base}/account/register`);
  await desktop.getByRole('button', { name: 'Create account' }).click();
  await shot(desktop, 'register-errors');
}

async function roles() {
  const seller = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  await signIn(seller, 'seller@emporium.example');
  await seller.goto(`${base}/seller`);
  await seller
    .getByRole('region', { name: /Your products/ })
    .getByRole('listitem')
    .first()
    .waitFor();
  await seller
    .getByRole('button', { name: /^Change your offer/ })
    .first()
    .click();
  await shot(seller, 'seller');

  const admin = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  await signIn(admin, 'admin@emporium.example');
  await admin.goto(`${base}/admin`);
  await admin
    .getByRole('region', { name: /Accounts/ })
    .getByRole('listitem')
    .first()
    .waitFor();
  await shot(admin, 'admin');
}

async function phone() {
  const page = await browser.newPage({ ...devices['Pixel 7'] });
  await page.goto(base);
  await shot(page, 'phone-home');
  await page.goto(`${base}/search?q=phone`);
  await shot(page, 'phone-search');
}
