// The cart's live updates: `subscription cartUpdated` over server-sent events through the
// gateway (GraphQL over SSE, one POST per subscription; docs/cart.md, Live updates). Sent by
// its persisted id like every other operation. A dropped stream is reopened with a growing
// pause; the first event after (re)opening is the cart as it is now, so nothing is missed.
import type { DocumentNode } from 'graphql';

export interface SseEvent {
  event: string;
  data: string;
}

/**
 * Splits a server-sent-events text into complete events; returns them and what is left over
 * (an event not yet finished). Comment lines (keep-alives) are skipped.
 */
export function parseSse(buffer: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  const normalised = buffer.replace(/\r\n?/g, '\n');
  const blocks = normalised.split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0 || event !== 'message') events.push({ event, data: data.join('\n') });
  }
  return { events, rest };
}

interface GraphQLPayload<T> {
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

export interface LiveOptions<T> {
  url: string;
  document: DocumentNode;
  variables: Record<string, unknown>;
  /** The access token to send, if any (asked again at every reconnect). */
  token: () => Promise<string | null>;
  onData: (data: T) => void;
  /** A GraphQL error from the stream (the subscription will not be reopened). */
  onError: (errors: NonNullable<GraphQLPayload<T>['errors']>) => void;
}

const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;

/** Opens the subscription; returns the function that closes it for good. */
export function subscribeLive<T>(options: LiveOptions<T>): () => void {
  const id = (options.document as { __meta__?: { hash?: string } }).__meta__?.hash;
  if (!id) throw new Error('Only generated documents can be sent (src/graphql/*.graphql)');
  let closed = false;
  let controller: AbortController | null = null;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let pause = FIRST_RETRY_MS;

  async function open(): Promise<void> {
    controller = new AbortController();
    const token = await options.token();
    const response = await fetch(options.url, {
      method: 'POST',
      signal: controller.signal,
      headers: {
        accept: 'text/event-stream',
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({
        variables: options.variables,
        extensions: { persistedQuery: { version: 1, sha256Hash: id } },
      }),
    });
    if (!response.ok || !response.body) throw new Error(`stream refused: ${response.status}`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      const parsed = parseSse(buffer + value);
      buffer = parsed.rest;
      for (const event of parsed.events) {
        if (event.event === 'complete') return;
        if (event.event !== 'next' && event.event !== 'message') continue;
        const payload = JSON.parse(event.data) as GraphQLPayload<T>;
        if (payload.errors?.length) {
          closed = true;
          options.onError(payload.errors);
          controller.abort();
          return;
        }
        if (payload.data) {
          pause = FIRST_RETRY_MS;
          options.onData(payload.data);
        }
      }
    }
  }

  function run(): void {
    open()
      .catch(() => {
        // network trouble or the stream refused: reopened below
      })
      .finally(() => {
        if (closed) return;
        retry = setTimeout(run, pause);
        pause = Math.min(pause * 2, MAX_RETRY_MS);
      });
  }

  run();
  return () => {
    closed = true;
    clearTimeout(retry);
    controller?.abort();
  };
}
