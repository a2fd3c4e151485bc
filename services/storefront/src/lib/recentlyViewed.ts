// The products this browser looked at, newest first: kept in this browser's storage for this
// origin only (nothing is sent anywhere), for the product page's "Recently viewed" row.
import { useSyncExternalStore } from 'react';

export interface ViewedProduct {
  slug: string;
  name: string;
  price: string;
  image: string | null;
}

const KEY = 'emporium.recentlyViewed';
export const MAX_VIEWED = 12;
const NONE: ViewedProduct[] = [];
const listeners = new Set<() => void>();

function isViewed(value: unknown): value is ViewedProduct {
  const item = value as Partial<ViewedProduct> | null;
  return (
    typeof item?.slug === 'string' &&
    typeof item.name === 'string' &&
    typeof item.price === 'string' &&
    (item.image === null || typeof item.image === 'string')
  );
}

// parsed once per stored text, so the hook's snapshot is stable between changes
let cached: { raw: string | null; items: ViewedProduct[] } = { raw: null, items: NONE };

function read(): ViewedProduct[] {
  let raw: string | null;
  try {
    raw = localStorage.getItem(KEY);
  } catch {
    return NONE;
  }
  if (raw === cached.raw) return cached.items;
  let items = NONE;
  try {
    const parsed: unknown = raw ? JSON.parse(raw) : [];
    if (Array.isArray(parsed)) items = parsed.filter(isViewed).slice(0, MAX_VIEWED);
  } catch {
    // unreadable: start again
  }
  cached = { raw, items };
  return items;
}

/** Puts ``product`` first (once) and keeps the newest ``MAX_VIEWED``. */
export function rememberViewed(product: ViewedProduct): void {
  const items = [product, ...read().filter((item) => item.slug !== product.slug)];
  try {
    localStorage.setItem(KEY, JSON.stringify(items.slice(0, MAX_VIEWED)));
  } catch {
    // storage full or disabled: the row shows what it had
  }
  for (const listener of listeners) listener();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  // another tab looked at something
  const onStorage = (event: StorageEvent) => {
    if (event.key === KEY || event.key === null) listener();
  };
  window.addEventListener('storage', onStorage);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('storage', onStorage);
  };
}

/** What this browser viewed, newest first; empty on the server (a rendered page has none). */
export function useRecentlyViewed(): ViewedProduct[] {
  return useSyncExternalStore(subscribe, read, () => NONE);
}
