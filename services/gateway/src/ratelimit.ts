// Per-client rate limits on root fields: fixed-window counters, in Redis when configured (one
// atomic script call per operation, shared by every replica), in memory otherwise.
import type { GatewayPlugin } from '@graphql-hive/gateway';
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  getOperationAST,
  GraphQLError,
  Kind,
  type SelectionSetNode,
} from 'graphql';
import { Redis } from 'ioredis';
import { clientIdentity, type RequestContext } from './security.ts';

const RATE_LIMIT_PREFIX = 'gateway:rate-limit:';
// A rate-limit check must never hold an operation for long: past this, the operation passes.
const REDIS_TIMEOUT_MS = 250;

/** A window's count after this operation's calls, and when the window ends. */
interface Hit {
  count: number;
  resetInMs: number;
}

interface Counter {
  hit(keys: Map<string, number>, windowMs: number): Promise<Hit[]>;
  close(): Promise<void>;
}

class MemoryCounter implements Counter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  private nextSweep = 0;

  async hit(keys: Map<string, number>, windowMs: number): Promise<Hit[]> {
    const now = Date.now();
    if (now >= this.nextSweep) {
      // drop ended windows once per window length, so idle clients do not pile up
      for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
      this.nextSweep = now + windowMs;
    }
    return [...keys].map(([key, calls]) => {
      let window = this.windows.get(key);
      if (!window || window.resetAt <= now) {
        window = { count: 0, resetAt: now + windowMs };
        this.windows.set(key, window);
      }
      window.count += calls;
      return { count: window.count, resetInMs: window.resetAt - now };
    });
  }

  async close(): Promise<void> {}
}

/**
 * Per key: add the calls, start the window on its first call (a key without expiry), and
 * answer the count and the time left; one script call per operation, whatever its fields.
 */
const HIT_SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCRBY', key, ARGV[i + 1])
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, ARGV[1])
    ttl = tonumber(ARGV[1])
  end
  out[#out + 1] = count
  out[#out + 1] = ttl
end
return out
`;

type HitCommand = (...args: (string | number)[]) => Promise<number[]>;

class RedisCounter implements Counter {
  private readonly redis: Redis & { rateLimitHit: HitCommand };

  constructor(url: string) {
    // No offline queue: while Redis is unreachable a hit fails at once instead of waiting.
    // Auto-pipelining sends the hits of concurrent operations in one write per tick.
    this.redis = new Redis(url, {
      commandTimeout: REDIS_TIMEOUT_MS,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      maxRetriesPerRequest: 1,
    }) as Redis & { rateLimitHit: HitCommand };
    this.redis.defineCommand('rateLimitHit', { lua: HIT_SCRIPT });
    this.redis.on('error', () => {}); // reported per operation by the plugin
  }

  async hit(keys: Map<string, number>, windowMs: number): Promise<Hit[]> {
    const replies = await this.redis.rateLimitHit(
      keys.size,
      ...keys.keys(),
      windowMs,
      ...keys.values(),
    );
    const hits: Hit[] = [];
    for (let i = 0; i < replies.length; i += 2) {
      hits.push({ count: Number(replies[i]), resetInMs: Number(replies[i + 1]) });
    }
    return hits;
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

const rootFieldsByDocument = new WeakMap<DocumentNode, Map<string | null, Map<string, number>>>();

/**
 * How many times each root field runs: the distinct response keys per field name (fields with
 * one response key merge into one call), through inline fragments and fragment spreads.
 * Introspection fields are free. Subscriptions are not limited here.
 */
function rootFieldCalls(
  document: DocumentNode,
  operationName?: string | null,
): Map<string, number> {
  let byOperation = rootFieldsByDocument.get(document);
  const cached = byOperation?.get(operationName ?? null);
  if (cached) return cached;
  const calls = new Map<string, number>();
  const operation = getOperationAST(document, operationName);
  if (operation && operation.operation !== 'subscription') {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) {
        fragments.set(definition.name.value, definition);
      }
    }
    const keys = new Map<string, Set<string>>();
    const seen = new Set<string>();
    const walk = (selectionSet: SelectionSetNode) => {
      for (const selection of selectionSet.selections) {
        if (selection.kind === Kind.FIELD) {
          const name = selection.name.value;
          if (name.startsWith('__')) continue;
          const responseKey = selection.alias?.value ?? name;
          keys.set(name, (keys.get(name) ?? new Set()).add(responseKey));
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          walk(selection.selectionSet);
        } else if (!seen.has(selection.name.value)) {
          seen.add(selection.name.value);
          const fragment = fragments.get(selection.name.value);
          if (fragment) walk(fragment.selectionSet);
        }
      }
    };
    walk(operation.selectionSet);
    for (const [name, responseKeys] of keys) calls.set(name, responseKeys.size);
  }
  if (!byOperation) {
    byOperation = new Map();
    rootFieldsByDocument.set(document, byOperation);
  }
  byOperation.set(operationName ?? null, calls);
  return calls;
}

/**
 * Each client may call each Query/Mutation root field `max` times per fixed window of
 * `windowMs`, counted in Redis (`redisUrl`, keys `gateway:rate-limit:<client>:<field>`) or in
 * memory. Over the limit the whole operation is refused with HTTP 429 and Retry-After (the
 * time left in the window) before any subgraph is called. Rejected calls count too, so a
 * client hammering a limit stays limited. If Redis cannot answer, operations pass and the
 * failure is logged: the limits are abuse control, the shop stays up.
 */
export function useClientRateLimit(options: {
  redisUrl: string | null;
  max: number;
  windowMs: number;
  trustForwardedFor: boolean;
}): GatewayPlugin {
  const counter: Counter = options.redisUrl
    ? new RedisCounter(options.redisUrl)
    : new MemoryCounter();
  const seconds = Math.ceil(options.windowMs / 1000);
  const message = `Rate limit exceeded: at most ${options.max} calls per ${seconds}s to this field`;
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const calls = rootFieldCalls(args.document, args.operationName);
      if (calls.size === 0) return;
      const client = clientIdentity(args.contextValue as RequestContext, options.trustForwardedFor);
      const keys = new Map(
        [...calls].map(([field, n]) => [`${RATE_LIMIT_PREFIX}${client}:${field}`, n]),
      );
      let hits: Hit[];
      try {
        hits = await counter.hit(keys, options.windowMs);
      } catch (error) {
        (args.contextValue as { log?: { warn(...a: unknown[]): void } }).log?.warn(
          { error: String(error) },
          'rate limit store unavailable; operation allowed',
        );
        return;
      }
      const over = hits.filter((hit) => hit.count > options.max);
      if (over.length === 0) return;
      const retryAfter = Math.max(1, Math.ceil(Math.max(...over.map((h) => h.resetInMs)) / 1000));
      setResultAndStopExecution({
        errors: [
          new GraphQLError(message, {
            extensions: {
              code: 'RATE_LIMITED',
              http: { status: 429, headers: { 'Retry-After': String(retryAfter) } },
            },
          }),
        ],
      });
    },
    onDispose: () => counter.close(),
  };
}
