// The entry of a page the server rendered (scripts/serve.mjs puts it in place of src/main.tsx).
// The page is painted, its first-screen pictures included, before the app's code is fetched and
// run: on a phone that code would compete with the pictures for the network and then hold the
// main thread, while the shopper can already read the page. Its chunks are then fetched
// together (the server names them in the page) and the app hydrates the page.

// a picture or a paint that does not come holds the app back no longer than this
const PAINT_WAIT_MS = 1_500;

function firstContentfulPaint(): Promise<unknown> {
  if (!PerformanceObserver.supportedEntryTypes?.includes('paint')) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const observer = new PerformanceObserver((entries) => {
      if (entries.getEntriesByName('first-contentful-paint').length === 0) return;
      observer.disconnect();
      resolve();
    });
    observer.observe({ type: 'paint', buffered: true });
  });
}

const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));

async function painted(): Promise<void> {
  const pictures = [...document.querySelectorAll('img[fetchpriority="high"]')].map((picture) =>
    (picture as HTMLImageElement).decode().catch(() => undefined),
  );
  await Promise.race([
    Promise.all([...pictures, firstContentfulPaint()]),
    new Promise((resolve) => setTimeout(resolve, PAINT_WAIT_MS)),
  ]);
  // the frame that shows the decoded pictures has been produced once the next one begins
  await nextFrame();
  await nextFrame();
}

/** The app's chunks for this page, all at once rather than each on finding the last. */
function fetchChunks(): void {
  const named = document.querySelector<HTMLMetaElement>('meta[name="emporium-chunks"]');
  for (const href of named?.content.split(' ').filter(Boolean) ?? []) {
    const link = document.createElement('link');
    link.rel = 'modulepreload';
    link.crossOrigin = '';
    link.href = href;
    document.head.append(link);
  }
}

await painted();
fetchChunks();
await import('./app/start');
