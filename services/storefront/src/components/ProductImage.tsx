import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { pictureSrcSet, SLOT_SIZES, type Slot } from '../lib/pictures';

const TINTS = [
  'from-amber-100 to-orange-200',
  'from-sky-100 to-indigo-200',
  'from-emerald-100 to-teal-200',
  'from-rose-100 to-pink-200',
  'from-violet-100 to-purple-200',
  'from-slate-100 to-slate-300',
];

function tintFor(text: string): string {
  let hash = 0;
  for (const char of text) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return TINTS[hash % TINTS.length];
}

interface Props {
  src: string | undefined;
  alt: string;
  /** what the placeholder shows when there is no picture (the product's name) */
  label: string;
  /** the kind of slot it fills: how wide it is drawn */
  slot: Slot;
  className?: string;
  eager?: boolean;
}

// how far outside the viewport a deferred picture starts loading (CSS pixels)
const NEAR_VIEWPORT = '300px';

// whether pictures can be watched does not change while the page lives
const unchanging = () => () => {};

/**
 * Whether a picture that is not ``eager`` may load yet: once the page has painted and it is
 * near the viewport. The browser's own lazy loading starts every picture within ~1,250 px at
 * once, and on a slow network those compete with the first screen's for bandwidth.
 */
function useNearViewport(eager: boolean) {
  const box = useRef<HTMLDivElement>(null);
  // where pictures cannot be watched, every one loads at once; the server's answer holds them
  // back like a browser's, so a server-rendered page hydrates to the same markup
  const watchable = useSyncExternalStore(
    unchanging,
    () => typeof IntersectionObserver !== 'undefined',
    () => true,
  );
  const [seen, setSeen] = useState(false);
  const near = eager || seen || !watchable;
  useEffect(() => {
    const element = box.current;
    if (near || !element) return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) {
          setSeen(true);
          observer.disconnect();
        }
      },
      { rootMargin: NEAR_VIEWPORT },
    );
    observer.observe(element);
    return () => observer.disconnect();
  }, [near]);
  return { box, near };
}

/**
 * A product picture in a fixed-ratio box (no layout shift), or a tinted placeholder with the
 * product's initials when the product has none or it cannot be loaded.
 */
export function ProductImage({ src, alt, label, slot, className = '', eager = false }: Props) {
  const [failed, setFailed] = useState(false);
  const { box, near } = useNearViewport(eager);
  const picture = useRef<HTMLImageElement>(null);
  // a server-rendered picture can fail before the app is there to hear its error event
  useEffect(() => {
    const image = picture.current;
    if (image?.complete && image.naturalWidth === 0 && image.currentSrc) setFailed(true);
  }, [near]);
  if (src && !failed && !near) {
    return <div ref={box} aria-hidden="true" className={`bg-slate-100 ${className}`} />;
  }
  if (!src || failed) {
    const initials = label
      .split(/\s+/)
      .slice(0, 2)
      .map((word) => word[0]?.toUpperCase() ?? '')
      .join('');
    // an empty alt marks a decorative picture (a thumbnail beside its labelled button)
    const described = alt ? { role: 'img', 'aria-label': alt } : { 'aria-hidden': true };
    return (
      <div
        {...described}
        className={`flex items-center justify-center bg-gradient-to-br ${tintFor(label)} ${className}`}
      >
        <span aria-hidden="true" className="text-3xl font-semibold text-slate-700/70">
          {initials}
        </span>
      </div>
    );
  }
  return (
    <img
      ref={picture}
      src={src}
      srcSet={pictureSrcSet(src)}
      sizes={SLOT_SIZES[slot]}
      alt={alt}
      loading={eager ? 'eager' : 'lazy'}
      fetchPriority={eager ? 'high' : 'auto'}
      decoding="async"
      onError={() => setFailed(true)}
      className={`object-cover ${className}`}
    />
  );
}
