// A stand-in for the product pictures' CDN (https://images.emporium.example, the demo
// catalog's image host, which does not exist here), for measurements in a browser: a real
// TLS server on 127.0.0.1 answering every picture with a photo-like JPEG, 600x600 (about
// 50 KB) or as wide as `?w=` asks (an image CDN scales on request), cacheable as a CDN's
// would be. Without it every picture fails, and a measurement counts requests that never
// download a byte.
//
//   const host = await startImageHost();
//   chromeFlags: [...host.chromeFlags]   // the host resolves to it, its certificate is trusted
//   await host.close();
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import jpeg from 'jpeg-js';

export const IMAGE_HOST = 'images.emporium.example';
const ORIGINAL = 600;

// A gradient with grain: it compresses like a photo, not like a flat colour.
function photo(side) {
  const data = Buffer.alloc(side * side * 4);
  let seed = 7;
  for (let y = 0; y < side; y += 1) {
    for (let x = 0; x < side; x += 1) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const grain = (seed % 24) - 12;
      const at = (y * side + x) * 4;
      data[at] = Math.max(0, Math.min(255, 120 + (x * 100) / side + grain));
      data[at + 1] = Math.max(0, Math.min(255, 140 + (y * 80) / side + grain));
      data[at + 2] = Math.max(0, Math.min(255, 200 - ((x + y) * 60) / side + grain));
      data[at + 3] = 255;
    }
  }
  return jpeg.encode({ data, width: side, height: side }, 75).data;
}

function selfSigned(directory) {
  const key = path.join(directory, 'key.pem');
  const cert = path.join(directory, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      `/CN=${IMAGE_HOST}`,
      '-addext',
      `subjectAltName=DNS:${IMAGE_HOST}`,
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(key), cert: readFileSync(cert) };
}

export async function startImageHost() {
  const directory = mkdtempSync(path.join(tmpdir(), 'emporium-images-'));
  const { key, cert } = selfSigned(directory);
  rmSync(directory, { recursive: true, force: true });
  const photos = new Map();
  const server = createServer({ key, cert }, (request, response) => {
    const url = new URL(request.url ?? '/', `https://${IMAGE_HOST}`);
    if (!url.pathname.startsWith('/products/')) {
      response.writeHead(404).end();
      return;
    }
    const asked = Number.parseInt(url.searchParams.get('w') ?? '', 10);
    const side = Number.isFinite(asked) ? Math.max(16, Math.min(asked, 2000)) : ORIGINAL;
    if (!photos.has(side)) photos.set(side, photo(side));
    const body = photos.get(side);
    response.writeHead(200, {
      'Content-Type': 'image/jpeg',
      'Content-Length': body.length,
      'Cache-Control': 'public, max-age=31536000, immutable',
    });
    response.end(request.method === 'HEAD' ? undefined : body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  // Chromium trusts exactly this certificate (by its public key), nothing else
  const spki = createHash('sha256')
    .update(new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64');
  return {
    hostRule: `MAP ${IMAGE_HOST}:443 127.0.0.1:${port}`,
    chromeFlags: [`--ignore-certificate-errors-spki-list=${spki}`],
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
