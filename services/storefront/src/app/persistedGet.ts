// The GET form of a persisted query: `<gateway>?documentId=<id>&variables=<canonical JSON>`.
// One spelling for one request, so the early fetch (src/prefetch.ts) and Apollo's request for
// the same data are the same URL; also what an HTTP cache keys on.

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
        .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

export function persistedGetUrl(
  gatewayUrl: string,
  documentId: string,
  variables: Record<string, unknown> | undefined,
): string {
  const url = new URL(gatewayUrl);
  url.searchParams.set('documentId', documentId);
  if (variables && Object.keys(variables).length > 0) {
    url.searchParams.set('variables', JSON.stringify(canonical(variables)));
  }
  return url.toString();
}

/** Requests started before the app's code arrived, by URL; each is handed out once. */
export interface EarlyRequests {
  take(url: string): Promise<Response> | undefined;
}

declare global {
  interface Window {
    __EMPORIUM_EARLY__?: Map<string, Promise<Response>>;
  }
}

export const earlyRequests: EarlyRequests = {
  take(url) {
    if (typeof window === 'undefined') return undefined;
    const pending = window.__EMPORIUM_EARLY__?.get(url);
    window.__EMPORIUM_EARLY__?.delete(url);
    return pending;
  },
};
