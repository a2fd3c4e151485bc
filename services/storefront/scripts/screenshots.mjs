#!/usr/bin/env node
// Screenshots of the main pages for docs/storefront.md, into docs/images/storefront/, taken
// with the system Chromium from a running shop with the demo data and demo accounts:
//
//   uv run python -m emporium_platform.shop node services/storefront/scripts/screenshots.mjs
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

try {
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

  const phone = await browser.newPage({ ...devices['Pixel 7'] });
  await phone.goto(base);
  await shot(phone, 'phone-home');
  await phone.goto(`${base}/search?q=phone`);
  await shot(phone, 'phone-search');
} finally {
  await browser.close();
}
