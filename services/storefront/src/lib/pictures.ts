// Product pictures come from an image CDN that scales a picture on request (`?w=<pixels>`, as
// imgix, Cloudinary-style hosts and Cloudflare Images do): the browser picks the width a slot
// needs from `srcset` and `sizes` instead of downloading the original everywhere. A host that
// ignores the parameter serves its original, as before.
const WIDTHS = [160, 320, 480, 640, 720, 800, 960, 1280];

/** How wide each kind of slot is drawn (CSS pixels), for `sizes`. */
export const SLOT_SIZES = {
  // two columns on a phone, three beside the filters, four on wide screens (max-w-7xl)
  card: '(min-width: 1280px) 260px, (min-width: 768px) 25vw, calc(50vw - 24px)',
  // beside the details from md, the page's width (less its padding) below
  gallery: '(min-width: 1280px) 610px, (min-width: 768px) calc(50vw - 48px), calc(100vw - 32px)',
  thumbnail: '64px',
  cartLine: '96px',
} as const;

export type Slot = keyof typeof SLOT_SIZES;

export function pictureSrcSet(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  return WIDTHS.map((width) => {
    parsed.searchParams.set('w', String(width));
    return `${parsed.toString()} ${width}w`;
  }).join(', ');
}

/** Start downloading a picture before the page that shows it has rendered: the same
 * candidates and sizes as its `<img>`, so the browser reuses the answer. */
export function preloadPicture(url: string, slot: Slot): void {
  const link = document.createElement('link');
  link.rel = 'preload';
  link.as = 'image';
  link.href = url;
  const srcset = pictureSrcSet(url);
  if (srcset) {
    link.imageSrcset = srcset;
    link.imageSizes = SLOT_SIZES[slot];
  }
  link.fetchPriority = 'high';
  document.head.append(link);
}
