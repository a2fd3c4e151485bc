// End-to-end tests against a running shop and the real services behind it (no mocks):
//
//   EMPORIUM_STOREFRONT_URL  where the production build is served (default http://127.0.0.1:4173)
//   EMPORIUM_GATEWAY_URL     the gateway the shop talks to (default http://127.0.0.1:4000/graphql)
//
// The demo catalog must be loaded (`emporium-catalog seed`, then `emporium-search rebuild`).
// Playwright cannot download browsers here: it drives the system Chromium, and every host but
// loopback is unresolvable for it (product pictures point at a CDN that is not reachable).
import { defineConfig, devices } from '@playwright/test';

const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
];

export default defineConfig({
  testDir: 'e2e',
  // generous: the suite shares two cores with every service it drives (and, on a developer's
  // machine, with other suites); each wait still ends as soon as its condition holds
  timeout: 120_000,
  expect: { timeout: 30_000 },
  // two cores shared with the services under test
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: process.env.EMPORIUM_STOREFRONT_URL ?? 'http://127.0.0.1:4173',
    browserName: 'chromium',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: chromiumArgs,
    },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  projects: [
    {
      name: 'desktop',
      testIgnore: /mobile\.spec\.ts/,
      use: { viewport: { width: 1280, height: 900 } },
    },
    {
      name: 'mobile',
      testMatch: /mobile\.spec\.ts/,
      use: { ...devices['Pixel 7'], browserName: 'chromium' },
    },
  ],
});
