// A guest cart's token: the only key to that cart, so it is kept apart from the session (the
// access token never touches storage), stays in this browser's storage for this origin
// alone, and never travels in a URL (src/app/apollo.ts sends requests that carry it as POST).
// It is dropped as soon as the cart is merged into an account or the cart service no longer
// knows it.
const KEY = 'emporium.cart';

export function readCartToken(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function writeCartToken(token: string | null): void {
  try {
    if (token) localStorage.setItem(KEY, token);
    else localStorage.removeItem(KEY);
  } catch {
    // storage disabled: the guest cart lasts as long as this page
  }
}

/** Calls `listener` when another tab starts or drops the guest cart. */
export function onCartTokenChange(listener: (token: string | null) => void): () => void {
  const handler = (event: StorageEvent) => {
    if (event.key === KEY || event.key === null) listener(readCartToken());
  };
  window.addEventListener('storage', handler);
  return () => window.removeEventListener('storage', handler);
}
