#!/usr/bin/env node
// Serves the production build (dist/) the way a deployment should: compressed (brotli or
// gzip), hashed assets cached for a year, index.html and config.js never cached, every
// unknown path answered with the app (client-side routes), security headers, and /config.js
// written from the environment so one build serves every environment:
//
//   EMPORIUM_GATEWAY_URL=http://127.0.0.1:4000/graphql EMPORIUM_IDENTITY_URL=http://127.0.0.1:8001 \
//     node scripts/serve.mjs [--port 4173] [--host 127.0.0.1]
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

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

async function load(file) {
  let entry = cache.get(file);
  if (!entry) {
    const body =
      file === path.join(root, 'config.js') && config ? Buffer.from(config) : await readFile(file);
    entry = {
      body,
      br: brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
      gzip: gzipSync(body, { level: 9 }),
      type: TYPES[path.extname(file)] ?? 'application/octet-stream',
    };
    cache.set(file, entry);
  }
  return entry;
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

const server = createServer(async (request, response) => {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { Allow: 'GET, HEAD' }).end();
    return;
  }
  // probes: the files are on disk from the start, so alive is ready until shutdown begins
  if (url.pathname === '/livez' || url.pathname === '/readyz') {
    const ok = url.pathname === '/livez' || !stopping;
    response.writeHead(ok ? 200 : 503, {
      'Content-Type': 'text/plain',
      'Cache-Control': 'no-store',
    });
    response.end(ok ? 'ok' : 'shutting down');
    return;
  }
  let file = url.pathname === '/' ? path.join(root, 'index.html') : resolve(url.pathname);
  let entry = file ? await load(file).catch(() => null) : null;
  if (!entry) {
    // a missing asset is a 404; any other path is a page of the app
    if (url.pathname.startsWith('/assets/') || path.extname(url.pathname)) {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found');
      return;
    }
    file = path.join(root, 'index.html');
    entry = await load(file);
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
// On SIGTERM: no new connections, answers in flight finish, idle keep-alive connections close.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopping = true;
    server.close(() => process.exit(0));
    server.closeIdleConnections();
  });
}
