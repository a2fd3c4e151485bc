#!/usr/bin/env node
// Lighthouse (performance, accessibility, best practices, SEO) on the home, search, product
// and (empty) cart pages of a running production build, with the system Chromium. Mobile (Lighthouse's
// default: emulated mid-range phone, simulated slow 4G, 4x CPU slowdown) and desktop.
//
//   EMPORIUM_STOREFRONT_URL=http://127.0.0.1:4173 EMPORIUM_GATEWAY_URL=http://127.0.0.1:4000/graphql \
//     node scripts/lighthouse.mjs [--runs 3] [--pages search,product] [--form-factors mobile]
//
// The product pictures come from a local stand-in for their CDN (scripts/image-host.mjs).
// Prints the median run per page and form factor; full reports go to .lighthouse/.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as chromeLauncher from 'chrome-launcher';
import lighthouse from 'lighthouse';
import desktopConfig from 'lighthouse/core/config/desktop-config.js';
import { startImageHost } from './image-host.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    pages: { type: 'string', default: 'home,search,product,cart' },
    'form-factors': { type: 'string', default: 'mobile,desktop' },
  },
});
const base = process.env.EMPORIUM_STOREFRONT_URL ?? 'http://127.0.0.1:4173';
const gateway = process.env.EMPORIUM_GATEWAY_URL ?? 'http://127.0.0.1:4000/graphql';
const out = fileURLToPath(new URL('../.lighthouse', import.meta.url));
mkdirSync(out, { recursive: true });

async function productPath() {
  const response = await fetch(gateway, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: '{ search(query: "phone", first: 1) { edges { node { slug } } } }',
    }),
  });
  const { data } = await response.json();
  return `/p/${data.search.edges[0].node.slug}`;
}

const paths = {
  home: async () => '/',
  search: async () => '/search?q=phone',
  product: productPath,
  cart: async () => '/cart',
};
const pages = {};
for (const name of values.pages.split(',')) {
  if (!(name in paths)) throw new Error(`unknown page ${name}: one of ${Object.keys(paths)}`);
  pages[name] = await paths[name]();
}
const formFactors = { mobile: undefined, desktop: desktopConfig };

const images = await startImageHost();
const chrome = await chromeLauncher.launch({
  chromePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  chromeFlags: [
    '--headless=new',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    // only loopback resolves (and the pictures' host, to its stand-in): nothing may reach
    // another host
    `--host-resolver-rules=${images.hostRule}, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost`,
    ...images.chromeFlags,
  ],
});

const rows = [];
try {
  for (const formFactor of values['form-factors'].split(',')) {
    if (!(formFactor in formFactors)) throw new Error(`unknown form factor ${formFactor}`);
    const config = formFactors[formFactor];
    for (const [name, pagePath] of Object.entries(pages)) {
      const runs = [];
      for (let i = 0; i < Number(values.runs); i += 1) {
        const result = await lighthouse(
          base + pagePath,
          {
            port: chrome.port,
            output: 'json',
            logLevel: 'error',
            onlyCategories: ['performance', 'accessibility', 'best-practices', 'seo'],
          },
          config,
        );
        runs.push(result.lhr);
        writeFileSync(path.join(out, `${formFactor}-${name}-${i + 1}.json`), result.report);
      }
      runs.sort((a, b) => a.categories.performance.score - b.categories.performance.score);
      const median = runs[Math.floor(runs.length / 2)];
      const audit = (id) => median.audits[id].numericValue;
      rows.push({
        page: name,
        formFactor,
        performance: Math.round(median.categories.performance.score * 100),
        accessibility: Math.round(median.categories.accessibility.score * 100),
        bestPractices: Math.round(median.categories['best-practices'].score * 100),
        seo: Math.round(median.categories.seo.score * 100),
        lcpMs: Math.round(audit('largest-contentful-paint')),
        fcpMs: Math.round(audit('first-contentful-paint')),
        tbtMs: Math.round(audit('total-blocking-time')),
        cls: Number(audit('cumulative-layout-shift').toFixed(3)),
        speedIndexMs: Math.round(audit('speed-index')),
        benchmarkIndex: median.environment.benchmarkIndex,
      });
    }
  }
} finally {
  chrome.kill();
  await images.close();
}
console.table(rows);
writeFileSync(path.join(out, 'summary.json'), `${JSON.stringify(rows, null, 2)}\n`);
