// The gateway's copy of identity's signing keys (JWKS). Whatever tokens clients send, the keys
// of genuine tokens stay available: the set is replaced only by a successful fetch, refreshed
// on a timer, and a token naming an unknown key id can trigger at most one fetch per interval.
import { createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { Logger } from '@graphql-hive/gateway';

// An EC public key whose private half is thrown away. The JWT plugin turns a key-provider
// failure into "authentication unavailable" (HTTP 500), right while no key set could ever be
// loaded but wrong for a token naming a kid identity does not publish: such a token gets this
// key instead and fails verification with 401 like every other bad token.
const NO_SUCH_KEY = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;

export interface KeyStoreOptions {
  /** identity's JWKS endpoint */
  url: string;
  /** per fetch */
  timeoutMs: number;
  /** background refresh period: a key identity withdraws stops verifying within it */
  refreshMs: number;
  /** least time between two fetches caused by tokens with an unknown kid */
  refetchMinIntervalMs: number;
  log: Logger;
}

/**
 * Identity's signing keys by kid, as key objects.
 *
 * - The set is fetched at start and every `refreshMs`, and replaced only when a fetch returns at
 *   least one usable key: an outage or a broken answer never drops the keys already known.
 * - A kid not in the set may be a key published since the last refresh (an immediate
 *   rotation): the store refetches, at most once per `refetchMinIntervalMs` however many such
 *   tokens arrive, and tokens that come while a fetch is under way wait for that fetch.
 * - A kid still unknown after that is refused at once (401, no fetch), so made-up kids cost
 *   one fetch per interval and can never push a known key out.
 */
export class JwksKeyStore {
  readonly #options: KeyStoreOptions;
  // Key objects, not PEM text: given text, jsonwebtoken parses the key again for every token,
  // which made each verification several times slower.
  #keys = new Map<string, KeyObject>();
  #loaded = false;
  #inflight: Promise<void> | null = null;
  #lastRefetch = Number.NEGATIVE_INFINITY;

  constructor(options: KeyStoreOptions) {
    this.#options = options;
    void this.#refresh();
    // unref: the timer must not keep a shutting-down gateway alive
    setInterval(() => void this.#refresh(), options.refreshMs).unref();
  }

  /** The signing key provider for Hive Gateway's `jwt` option. */
  readonly signingKey = async (kid?: string): Promise<KeyObject> => {
    if (!kid) return NO_SUCH_KEY; // identity always sets one
    const known = this.#keys.get(kid);
    if (known) return known;
    await this.#refetchForUnknownKid();
    const fetched = this.#keys.get(kid);
    if (fetched) return fetched;
    if (!this.#loaded) throw new Error('no JWKS could be loaded yet');
    return NO_SUCH_KEY;
  };

  #refetchForUnknownKid(): Promise<void> {
    if (this.#inflight) return this.#inflight;
    const now = performance.now();
    if (now - this.#lastRefetch < this.#options.refetchMinIntervalMs) return Promise.resolve();
    this.#lastRefetch = now;
    return this.#refresh();
  }

  /** One fetch at a time (single flight); never rejects. */
  #refresh(): Promise<void> {
    this.#inflight ??= this.#fetch()
      .then(
        (keys) => {
          this.#keys = keys;
          this.#loaded = true;
        },
        (error: unknown) => {
          this.#options.log.warn(
            {
              reason: error instanceof Error ? error.message : String(error),
              keys: this.#keys.size,
            },
            'JWKS refresh failed; keeping the keys already known',
          );
        },
      )
      .finally(() => {
        this.#inflight = null;
      });
    return this.#inflight;
  }

  async #fetch(): Promise<Map<string, KeyObject>> {
    const response = await fetch(this.#options.url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(this.#options.timeoutMs),
    });
    if (!response.ok) throw new Error(`JWKS answered HTTP ${response.status}`);
    const document = (await response.json()) as { keys?: unknown };
    const keys = new Map<string, KeyObject>();
    for (const jwk of Array.isArray(document?.keys) ? document.keys : []) {
      const key = publicKey(jwk);
      if (key) keys.set((jwk as { kid: string }).kid, key);
    }
    if (keys.size === 0) throw new Error('JWKS holds no usable signing key');
    return keys;
  }
}

/** A published EC or RSA signing key with a kid; null for anything else. */
function publicKey(jwk: unknown): KeyObject | null {
  if (typeof jwk !== 'object' || jwk === null) return null;
  const { kid, kty, use } = jwk as { kid?: unknown; kty?: unknown; use?: unknown };
  if (typeof kid !== 'string' || !kid || (use !== undefined && use !== 'sig')) return null;
  if (kty !== 'EC' && kty !== 'RSA') return null;
  try {
    return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    return null;
  }
}
