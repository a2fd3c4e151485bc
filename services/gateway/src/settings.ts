// Gateway settings from the environment. Same EMPORIUM_ prefix and shared names as the Python
// services (docs/architecture.md); the gateway-only knobs are listed in docs/gateway.md.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const GATEWAY_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export type Environment = 'development' | 'production';
export type QueryPlanner = 'rust' | 'javascript';

export interface Settings {
  environment: Environment;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  supergraphPath: string;
  supergraphPollMs: number;
  queryPlanner: QueryPlanner;
  persistedOperationsPath: string;
  jwksUrl: string | null;
  jwksRefreshMs: number;
  jwksRefetchMinIntervalMs: number;
  jwtIssuer: string;
  jwtAudience: string;
  corsOrigins: string[];
  otlpEndpoint: string | null;
  metricsHost: string;
  metricsPort: number;
  redisUrl: string | null;
  trustForwardedFor: boolean;
  maxDepth: number;
  maxTokens: number;
  maxAliases: number;
  maxCost: number;
  assumedListSize: number;
  maxRequestBytes: number;
  rateLimitMax: number;
  rateLimitWindowMs: number;
  subgraphTimeoutMs: number;
  shutdownGraceMs: number;
  subgraphUrls: Record<string, string>;
}

type Env = Record<string, string | undefined>;

function text(env: Env, name: string, fallback: string): string {
  const value = env[`EMPORIUM_${name}`]?.trim();
  return value ? value : fallback;
}

function optional(env: Env, name: string): string | null {
  const value = env[`EMPORIUM_${name}`]?.trim();
  return value ? value : null;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = optional(env, name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`EMPORIUM_${name}=${raw}: expected an integer in ${min}..${max}`);
  }
  return value;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = optional(env, name)?.toLowerCase();
  if (raw === undefined || raw === null) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new Error(`EMPORIUM_${name}=${raw}: expected true or false`);
}

/** `EMPORIUM_SUBGRAPH_<NAME>_URL` overrides of the routing URLs baked into the supergraph. */
function subgraphUrls(env: Env): Record<string, string> {
  const urls: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    const match = /^EMPORIUM_SUBGRAPH_([A-Z0-9_]+)_URL$/.exec(key);
    if (match && value?.trim()) urls[match[1].toLowerCase()] = value.trim();
  }
  return urls;
}

export function loadSettings(env: Env = process.env): Settings {
  const environment = text(env, 'ENVIRONMENT', 'development');
  if (environment !== 'development' && environment !== 'production') {
    throw new Error(`EMPORIUM_ENVIRONMENT=${environment}: expected development or production`);
  }
  const logLevel = text(env, 'LOG_LEVEL', 'info').toLowerCase();
  if (!['trace', 'debug', 'info', 'warn', 'error'].includes(logLevel)) {
    throw new Error(`EMPORIUM_LOG_LEVEL=${logLevel}: expected debug, info, warn or error`);
  }
  const queryPlanner = text(env, 'QUERY_PLANNER', 'javascript');
  if (queryPlanner !== 'rust' && queryPlanner !== 'javascript') {
    throw new Error(`EMPORIUM_QUERY_PLANNER=${queryPlanner}: expected rust or javascript`);
  }
  const settings: Settings = {
    environment,
    logLevel: logLevel as Settings['logLevel'],
    supergraphPath: path.resolve(GATEWAY_DIR, text(env, 'SUPERGRAPH_PATH', 'supergraph.graphql')),
    // Hive Gateway refuses polling intervals under 10 s.
    supergraphPollMs: integer(env, 'SUPERGRAPH_POLL_MS', 10_000, 10_000, 3_600_000),
    queryPlanner,
    persistedOperationsPath: path.resolve(
      GATEWAY_DIR,
      text(env, 'PERSISTED_OPERATIONS_PATH', 'persisted-operations.json'),
    ),
    jwksUrl: optional(env, 'JWKS_URL'),
    // Below identity's key activation delay (60 s), so a rotated-in key is known before any
    // token names it.
    jwksRefreshMs: integer(env, 'JWKS_REFRESH_MS', 30_000, 500, 3_600_000),
    jwksRefetchMinIntervalMs: integer(env, 'JWKS_REFETCH_MIN_INTERVAL_MS', 5_000, 100, 3_600_000),
    jwtIssuer: text(env, 'JWT_ISSUER', 'emporium-identity'),
    jwtAudience: text(env, 'JWT_AUDIENCE', 'emporium'),
    corsOrigins: (optional(env, 'CORS_ORIGINS') ?? '')
      .split(',')
      .map((origin) => origin.trim())
      .filter(Boolean),
    otlpEndpoint: optional(env, 'OTLP_ENDPOINT'),
    // Prometheus' conventional exporter port range; the local platform sets a free one.
    metricsHost: text(env, 'METRICS_HOST', '127.0.0.1'),
    metricsPort: integer(env, 'METRICS_PORT', 9464, 1024, 65_535),
    redisUrl: optional(env, 'REDIS_URL'),
    trustForwardedFor: flag(env, 'TRUST_FORWARDED_FOR', false),
    maxDepth: integer(env, 'GRAPHQL_MAX_DEPTH', 10, 1, 100),
    maxTokens: integer(env, 'GRAPHQL_MAX_TOKENS', 1000, 10, 100_000),
    maxAliases: integer(env, 'GRAPHQL_MAX_ALIASES', 15, 0, 1000),
    maxCost: integer(env, 'GRAPHQL_MAX_COST', 5000, 1, 10_000_000),
    assumedListSize: integer(env, 'GRAPHQL_ASSUMED_LIST_SIZE', 20, 1, 1000),
    maxRequestBytes: integer(env, 'MAX_REQUEST_BYTES', 65_536, 1024, 10_485_760),
    rateLimitMax: integer(env, 'RATE_LIMIT_MAX', 300, 1, 1_000_000),
    rateLimitWindowMs: integer(env, 'RATE_LIMIT_WINDOW_MS', 60_000, 1000, 3_600_000),
    subgraphTimeoutMs: integer(env, 'SUBGRAPH_TIMEOUT_MS', 10_000, 100, 300_000),
    // in-flight requests finish within this after SIGTERM (Hive Gateway's default 0 cuts them)
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 15_000, 0, 300_000),
    subgraphUrls: subgraphUrls(env),
  };
  if (settings.environment === 'production' && !settings.jwksUrl) {
    throw new Error('EMPORIUM_JWKS_URL is required in production: the gateway must verify tokens');
  }
  return settings;
}
