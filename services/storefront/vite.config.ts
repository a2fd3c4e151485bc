import { readFileSync } from 'node:fs';
import tailwindcss from '@tailwindcss/vite';
import react from '@vitejs/plugin-react';
import type { BuildEnvironmentOptions, Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

/**
 * `virtual:persisted-ids`: operation name → persisted id, from the codegen manifest, for the
 * early-fetch entry (src/prefetch.ts), which must stay tiny and cannot import the documents.
 */
function persistedIds(): Plugin {
  const id = 'virtual:persisted-ids';
  const manifest = new URL('./src/gql/persisted-documents.json', import.meta.url);
  return {
    name: 'emporium-persisted-ids',
    resolveId: (source) => (source === id ? `\0${id}` : undefined),
    load(resolved) {
      if (resolved !== `\0${id}`) return undefined;
      this.addWatchFile(manifest.pathname);
      const documents = JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, string>;
      const ids = Object.fromEntries(
        Object.entries(documents).flatMap(([hash, body]) => {
          const name = body.match(/^(?:.*\s)?(?:query|mutation) (\w+)/s)?.[1];
          return name ? [[name, hash]] : [];
        }),
      );
      return `export const ids = ${JSON.stringify(ids)};`;
    },
  };
}

/**
 * The early-fetch script (src/prefetch.ts) as an entry of its own, loaded before the app's
 * bundle: put into one chunk with the app, it would wait for all of the app's code.
 */
function prefetchEntry(): Plugin {
  return {
    name: 'emporium-prefetch-entry',
    transformIndexHtml: {
      order: 'post',
      handler(_html, context) {
        const chunk = Object.values(context.bundle ?? {}).find(
          (output) => output.type === 'chunk' && output.isEntry && output.name === 'prefetch',
        );
        const src = chunk ? `/${chunk.fileName}` : '/src/prefetch.ts';
        return [
          {
            tag: 'script',
            attrs: { type: 'module', crossorigin: true, src },
            injectTo: 'head-prepend',
          },
        ];
      },
    },
  };
}

/**
 * The route table (src/app/routes.json) beside the build manifest, for the static server:
 * with both it names a page's chunks in that page's HTML (scripts/serve.mjs).
 */
function routeTable(): Plugin {
  const table = new URL('./src/app/routes.json', import.meta.url);
  return {
    name: 'emporium-route-table',
    apply: 'build',
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: '.vite/routes.json', source: readFileSync(table) });
    },
  };
}

// the server's render (src/entry-server.tsx) for scripts/serve.mjs: one module with its
// dependencies inside, so the image runs it without node_modules
const serverBuild: BuildEnvironmentOptions = {
  target: 'node20',
  outDir: 'dist-ssr',
  copyPublicDir: false,
  rollupOptions: { input: { 'entry-server': 'src/entry-server.tsx' } },
};

const browserBuild: BuildEnvironmentOptions = {
  target: 'es2022',
  // the budget is checked on gzipped sizes (scripts/bundle-size.mjs), not this raw limit
  chunkSizeWarningLimit: 600,
  manifest: true,
  rollupOptions: {
    input: { index: 'index.html', prefetch: 'src/prefetch.ts', hydrate: 'src/hydrate.tsx' },
  },
};

export default defineConfig(({ isSsrBuild }) => ({
  plugins: [
    react(),
    tailwindcss(),
    persistedIds(),
    ...(isSsrBuild ? [] : [prefetchEntry(), routeTable()]),
  ],
  server: { host: '127.0.0.1', port: 5173, strictPort: true },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true },
  build: isSsrBuild ? serverBuild : browserBuild,
  ssr: { noExternal: true },
  // React's production build in the server's bundle too, whatever NODE_ENV the server has
  define: isSsrBuild ? { 'process.env.NODE_ENV': JSON.stringify('production') } : {},
  test: {
    environment: 'jsdom',
    setupFiles: ['src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    // typing into forms takes seconds when the suite shares two cores with the services
    testTimeout: 30_000,
    css: false,
  },
}));
