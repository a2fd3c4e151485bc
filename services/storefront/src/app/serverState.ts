// What a server-rendered page hands the browser: the Apollo cache its render read and the
// router's loader data, in one JSON data block (not a script: the page's CSP runs no inline
// code). The browser restores both and hydrates the markup instead of drawing it again.
import type { HydrationState } from 'react-router';

export const SERVER_STATE_ID = 'emporium-state';

export interface ServerState {
  /** The normalised cache, as `client.extract()` gives it and `client.restore()` takes it. */
  apollo: unknown;
  router: HydrationState;
}

/**
 * JSON for a `<script type="application/json">` block: no `<` can close the element (a
 * product name such as `</script><script>…` stays text), and the line separators JavaScript
 * once rejected are escaped too.
 */
export function serializeState(state: ServerState): string {
  return JSON.stringify(state)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** The state a server-rendered page carries, or null for a page the browser draws alone. */
export function readServerState(root: Document = document): ServerState | null {
  const element = root.getElementById(SERVER_STATE_ID);
  if (!element?.textContent) return null;
  try {
    return JSON.parse(element.textContent) as ServerState;
  } catch {
    return null;
  }
}
