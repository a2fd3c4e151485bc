#!/usr/bin/env node
// Serves the production build (dist/) the way a deployment should: compressed (brotli or
// gzip), hashed assets cached for a year, index.html and config.js never cached, every
// unknown path answered with the app (client-side routes) naming that page's chunks for
// preloading, the shopper's pages (routes marked "render": "server") rendered here with
// their data (dist-ssr/, src/entry-server.tsx), security headers, and /config.js written
// from the environment so one build serves every environment:
//
//   EMPORIUM_GATEWAY_URL=http://127.0.0.1:4000/graphql EMPORIUM_IDENTITY_URL=http://127.0.0.1:8001 \
//     node scripts/serve.mjs [--port 4173] [--host 127.0.0.1]
//
// EMPORIUM_SSR_GATEWAY_URL: the gateway as this server reaches it (default: the shop's);
// EMPORIUM_SSR_DEADLINE_MS: how long a render may wait for its data before the browser is
// left to draw the page (default 1000); EMPORIUM_TRUST_FORWARDED_FOR: one proxy in front
// appends the shopper's address to X-Forwarded-For.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { render } from '../dist-ssr/entry-server.js';

const root = path.resolve(fileURLToPath(new URL('../dist', import.meta.url)));
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '4173' },
    host: { type: 'string', default: process.env.HOST ?? '127.0.0.1' },
  },
});

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

function runtimeConfig() {
  const settings = {};
  if (process.env.EMPORIUM_GATEWAY_URL) settings.gatewayUrl = process.env.EMPORIUM_GATEWAY_URL;
  if (process.env.EMPORIUM_IDENTITY_URL) settings.identityUrl = process.env.EMPORIUM_IDENTITY_URL;
  return Object.keys(settings).length > 0
    ? `window.__EMPORIUM_CONFIG__ = ${JSON.stringify(settings)};\n`
    : null;
}

function origin(url) {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

const config = runtimeConfig();
const apiOrigins = [process.env.EMPORIUM_GATEWAY_URL, process.env.EMPORIUM_IDENTITY_URL]
  .map((url) => (url ? origin(url) : null))
  .filter(Boolean);
const defaults = ['http://127.0.0.1:4000', 'http://127.0.0.1:8001'];
// Script and styles only from here; API calls only to the gateway and identity; product
// pictures from any https host (their CDN).
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' https: data:",
  `connect-src 'self' ${(apiOrigins.length ? apiOrigins : defaults).join(' ')}`,
  "frame-ancestors 'none'",
  "base-uri 'self'",
  `form-action 'self'`,
].join('; ');

const cache = new Map();

function compressed(body, type) {
  return {
    body,
    br: brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
    gzip: gzipSync(body, { level: 9 }),
    type,
  };
}

async function load(file) {
  let entry = cache.get(file);
  if (!entry) {
    const body =
      file === path.join(root, 'config.js') && config ? Buffer.from(config) : await readFile(file);
    entry = compressed(body, TYPES[path.extname(file)] ?? 'application/octet-stream');
    cache.set(file, entry);
  }
  return entry;
}

// A page's own chunks start loading with the HTML, beside the app's entry: discovered only
// once the entry has run, they would add a round trip and a download to every first paint.
// Which path shows which page is the app router's table (src/app/routes.json, copied next to
// the build manifest); a path matches as in React Router (":param" one segment, "*" the rest).
function pageDocuments() {
  const read = (name) => JSON.parse(readFileSync(path.join(root, '.vite', name), 'utf8'));
  const manifest = read('manifest.json');
  const closure = (key, seen = new Set()) => {
    if (!seen.has(key)) {
      seen.add(key);
      for (const dependency of manifest[key]?.imports ?? []) closure(dependency, seen);
    }
    return seen;
  };
  const initial = closure('index.html');
  // a page the server rendered loads src/hydrate.tsx in the app's place: the app, all of
  // src/main.tsx's chunks, comes once that page has painted
  const hydrate = manifest['src/hydrate.tsx'];
  const hydrating = closure('src/hydrate.tsx');
  const app = [...initial].filter((key) => key !== 'index.html' && !hydrating.has(key));
  // connections the first screen needs, opened while the scripts download: the gateway's
  // (the early-fetch script asks it for the page's data, without credentials) and the
  // pictures' host's
  const gateway = origin(process.env.EMPORIUM_GATEWAY_URL ?? '');
  const images = origin(process.env.EMPORIUM_IMAGES_URL ?? '');
  const preconnect = [
    ...(gateway ? [`<link rel="preconnect" href="${gateway}" crossorigin>`] : []),
    ...(images ? [`<link rel="preconnect" href="${images}">`] : []),
  ];
  const html = readFileSync(path.join(root, 'index.html'), 'utf8');
  return read('routes.json').map(({ path: pattern, page, render: where }) => {
    const own = [...closure(`src/pages/${page}.tsx`)].filter((key) => !initial.has(key));
    const withHead = (document, tags) =>
      document.replace(
        '</head>',
        [...preconnect, ...tags].map((tag) => `${tag}\n  `).join('') + '</head>',
      );
    // A page the server rendered paints without its code, so its code is not fetched with
    // the HTML, competing with the stylesheet and the first pictures: the entry fetches the
    // chunks named here once the page is on screen (src/hydrate.tsx).
    const named = [...app, ...own].map((key) => `/${manifest[key].file}`).join(' ');
    const rendered = withHead(
      html
        .replace(`/${manifest['index.html'].file}"`, `/${hydrate.file}"`)
        .replace(/\s*<link rel="modulepreload"[^>]*>/g, ''),
      [`<meta name="emporium-chunks" content="${named}">`],
    );
    const parts = pattern.split('/').filter(Boolean);
    return {
      matches: (segments) =>
        pattern === '*' ||
        (segments.length === parts.length &&
          parts.every((part, i) => part.startsWith(':') || part === segments[i].toLowerCase())),
      entry: compressed(
        Buffer.from(
          withHead(
            html,
            own.map(
              (key) => `<link rel="modulepreload" crossorigin href="/${manifest[key].file}">`,
            ),
          ),
        ),
        TYPES['.html'],
      ),
      document: where === 'server' ? rendered : null,
    };
  });
}

const pagesByPath = pageDocuments();

function pageFor(pathname) {
  const segments = pathname.split('/').filter(Boolean);
  return pagesByPath.find((page) => page.matches(segments));
}

// Server rendering. The gateway counts its limits per shopper, so each render's queries carry
// the address of the shopper who asked (the gateway trusts the one proxy in front of it).
const ssrGateway =
  process.env.EMPORIUM_SSR_GATEWAY_URL ??
  process.env.EMPORIUM_GATEWAY_URL ??
  'http://127.0.0.1:4000/graphql';
const deadlineMs = Number(process.env.EMPORIUM_SSR_DEADLINE_MS ?? 1000);
const trustForwardedFor = ['1', 'true', 'yes', 'on'].includes(
  String(process.env.EMPORIUM_TRUST_FORWARDED_FOR ?? '').toLowerCase(),
);
// renders in flight at most; a page asked for beyond that is drawn by the browser
const MAX_RENDERS = 16;
let rendering = 0;
// the leading tags React hoists out of a page (its title, its first picture's preload)
const HOISTED = /^(?:<title>[^<]*<\/title>|<(?:link|meta)\b[^>]*>)+/;

function shopperAddress(request) {
  if (trustForwardedFor) {
    const last = String(request.headers['x-forwarded-for'] ?? '')
      .split(',')
      .pop()
      ?.trim();
    if (last) return last;
  }
  return request.socket.remoteAddress ?? '';
}

/** The page's HTML with its markup and state, or null: the browser draws it alone. */
async function serverRendered(document, url, request) {
  if (rendering >= MAX_RENDERS || stopping) return null;
  rendering += 1;
  try {
    const address = shopperAddress(request);
    const page = await render(url.href, {
      gatewayUrl: ssrGateway,
      headers: address ? { 'x-forwarded-for': address } : {},
      signal: AbortSignal.timeout(deadlineMs),
    });
    if (!page) return null;
    const head = page.html.match(HOISTED)?.[0] ?? '';
    return document
      .replace('</head>', `${head}</head>`)
      .replace(
        /<div id="root">.*?<\/div><\/div>/s,
        () =>
          `<div id="root">${page.html.slice(head.length)}</div>` +
          `<script type="application/json" id="emporium-state">${page.state}</script>`,
      );
  } catch (error) {
    if (error?.name !== 'AbortError' && error?.name !== 'TimeoutError') {
      console.error(`server render of ${url.pathname} failed: ${error?.message ?? error}`);
    }
    return null;
  } finally {
    rendering -= 1;
  }
}

function dynamic(html) {
  const body = Buffer.from(html);
  return {
    body,
    // answered once: a quick brotli level, not the best one the static files get
    br: brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } }),
    gzip: gzipSync(body, { level: 6 }),
    type: TYPES['.html'],
  };
}

function resolve(urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  // nothing outside dist/, nothing hidden (dist/.vite holds the build manifest)
  const file = path.resolve(root, `.${decoded}`);
  const inside = file.startsWith(root + path.sep);
  return inside &&
    !path
      .relative(root, file)
      .split(path.sep)
      .some((part) => part.startsWith('.'))
    ? file
    : null;
}

// set on SIGTERM: /readyz fails while the answers in flight finish
let stopping = false;
// Every file is compressed before the server reports ready: done on a shopper's first
// request, brotli's best level makes that request wait most of a second.
let warm = false;
async function compressEverything(directory) {
  for (const item of await readdir(directory, { withFileTypes: true })) {
    if (item.name.startsWith('.')) continue;
    const file = path.join(directory, item.name);
    if (item.isDirectory()) await compressEverything(file);
    else await load(file);
  }
}

const server = createServer(async (request, response) => {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { Allow: 'GET, HEAD' }).end();
    return;
  }
  // probes: ready once every file is compressed, until shutdown begins
  if (url.pathname === '/livez' || url.pathname === '/readyz') {
    const ok = url.pathname === '/livez' || (warm && !stopping);
    response.writeHead(ok ? 200 : 503, {
      'Content-Type': 'text/plain',
      'Cache-Control': 'no-store',
    });
    response.end(ok ? 'ok' : stopping ? 'shutting down' : 'starting');
    return;
  }
  const file = url.pathname === '/' ? null : resolve(url.pathname);
  let entry = file ? await load(file).catch(() => null) : null;
  if (!entry) {
    // a missing asset is a 404; any other path is a page of the app
    if (url.pathname.startsWith('/assets/') || path.extname(url.pathname)) {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found');
      return;
    }
    const page = pageFor(url.pathname);
    const html =
      page?.document && request.method === 'GET'
        ? await serverRendered(page.document, url, request)
        : null;
    entry = html ? dynamic(html) : (page?.entry ?? (await load(path.join(root, 'index.html'))));
  }
  const immutable = url.pathname.startsWith('/assets/');
  const accepted = String(request.headers['accept-encoding'] ?? '');
  const encoding = /\bbr\b/.test(accepted) ? 'br' : /\bgzip\b/.test(accepted) ? 'gzip' : null;
  const body = encoding ? entry[encoding] : entry.body;
  response.writeHead(200, {
    'Content-Type': entry.type,
    'Content-Length': body.length,
    'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    Vary: 'Accept-Encoding',
    ...(encoding ? { 'Content-Encoding': encoding } : {}),
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'strict-origin-when-cross-origin',
  });
  response.end(request.method === 'HEAD' ? undefined : body);
});

server.listen(Number(values.port), values.host, () => {
  console.log(`Emporium storefront on http://${values.host}:${values.port}`);
});
await compressEverything(root);
warm = true;
// On SIGTERM: no new connections, answers in flight finish, idle keep-alive connections close.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopping = true;
    server.close(() => process.exit(0));
    server.closeIdleConnections();
  });
}
