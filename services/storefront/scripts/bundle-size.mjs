#!/usr/bin/env node
// The JavaScript budget, checked after every build: what a first visit must download before
// any page shows (the entry chunk and everything it imports statically), gzipped, at most
// 200 kB; every page's own chunk is loaded on demand and listed for reference.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const BUDGET_BYTES = 200_000;
const dist = fileURLToPath(new URL('../dist', import.meta.url));
const manifest = JSON.parse(readFileSync(path.join(dist, '.vite', 'manifest.json'), 'utf8'));

const gzipped = (file) => gzipSync(readFileSync(path.join(dist, file)), { level: 9 }).length;
const kB = (bytes) => `${(bytes / 1000).toFixed(1)} kB`;

function staticClosure(key, seen = new Set()) {
  if (seen.has(key)) return seen;
  seen.add(key);
  for (const imported of manifest[key].imports ?? []) staticClosure(imported, seen);
  return seen;
}

// the app and the early-fetch script (src/prefetch.ts) both load with the first page (a page
// the server rendered loads the tiny src/hydrate.tsx in the app's place, and the app after it)
const entryKeys = Object.keys(manifest).filter((key) => manifest[key].isEntry);
const initial = [...entryKeys.reduce((seen, key) => staticClosure(key, seen), new Set())];
const initialJs = initial.reduce((sum, key) => sum + gzipped(manifest[key].file), 0);
const initialCss = initial
  .flatMap((key) => manifest[key].css ?? [])
  .reduce((sum, file) => sum + gzipped(file), 0);

console.log(`initial JavaScript: ${kB(initialJs)} gzipped (budget ${kB(BUDGET_BYTES)})`);
console.log(`initial CSS:        ${kB(initialCss)} gzipped`);
console.log('pages, loaded on demand (own chunk + chunks not already loaded):');
const pages = initial
  .flatMap((key) => manifest[key].dynamicImports ?? [])
  .filter((key) => key.startsWith('src/pages/'));
for (const key of new Set(pages)) {
  const extra = [...staticClosure(key)].filter((k) => !initial.includes(k));
  const bytes = extra.reduce((sum, k) => sum + gzipped(manifest[k].file), 0);
  console.log(`  ${path.basename(key).padEnd(16)} ${kB(bytes)}`);
}
if (initialJs > BUDGET_BYTES) {
  console.error(`Initial JavaScript is over budget by ${kB(initialJs - BUDGET_BYTES)}`);
  process.exitCode = 1;
}
