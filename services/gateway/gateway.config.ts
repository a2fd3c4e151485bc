// Hive Gateway configuration for Emporium's one public GraphQL endpoint. Every knob comes from
// EMPORIUM_* environment variables (src/settings.ts); docs/gateway.md explains each one.
//
//   hive-gateway supergraph -h 127.0.0.1 -p 4000
//
// (no path argument: with a path the CLI watches the file itself and drops `pollingInterval`;
// the reader below polls instead, which also survives the symlink swap of a Kubernetes
// ConfigMap volume.)
import { readFile } from 'node:fs/promises';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { defineConfig, extractFromHeader, Logger } from '@graphql-hive/gateway';
import { unifiedGraphHandler as rustQueryPlanner } from '@graphql-hive/router-runtime';
import { Registry } from 'prom-client';
import { useParsedDocumentForExecution } from './src/documents.ts';
import { useClientSafeErrors } from './src/errors.ts';
import { JwksKeyStore } from './src/keystore.ts';
import { RedactingJSONLogWriter } from './src/logging.ts';
import { useMetricsServer } from './src/metrics.ts';
import { loadPersistedOperations } from './src/persisted.ts';
import { useClientRateLimit } from './src/ratelimit.ts';
import {
  type AccessTokenClaims,
  clientAddress,
  extractScopes,
  type RequestContext,
  useJsonRequestsOnly,
  useRequestSizeLimit,
  useRequiredClaims,
  useValidUnicode,
  validateAccess,
} from './src/security.ts';
import { loadSettings } from './src/settings.ts';
import { setupTracing } from './src/telemetry.ts';

const settings = loadSettings();
const production = settings.environment === 'production';
const tracing = setupTracing(settings);
const persistedOperations = loadPersistedOperations(settings.persistedOperationsPath);
// Every record passes the redacting writer: no bodies, variables, documents or secrets in logs.
const log = new Logger({ level: settings.logLevel, writers: [new RedactingJSONLogWriter()] });
const keyStore = settings.jwksUrl
  ? new JwksKeyStore({
      url: settings.jwksUrl,
      timeoutMs: settings.subgraphTimeoutMs,
      refreshMs: settings.jwksRefreshMs,
      refetchMinIntervalMs: settings.jwksRefetchMinIntervalMs,
      log,
    })
  : null;
const metricsRegistry = new Registry();
const metricsServer = useMetricsServer({
  registry: metricsRegistry,
  host: settings.metricsHost,
  port: settings.metricsPort,
  log,
});

export const gatewayConfig = defineConfig({
  // Read on start and again every poll: a recomposed supergraph is served without a restart.
  supergraph: () => readFile(settings.supergraphPath, 'utf8'),
  pollingInterval: settings.supergraphPollMs,
  // Hive Gateway's own planner by default; `rust` plugs in Hive Router's (docs/gateway.md,
  // "Query planning"), which does not yet answer errors and label metrics as clients expect.
  unifiedGraphHandler: settings.queryPlanner === 'rust' ? rustQueryPlanner : undefined,
  transportEntries: Object.fromEntries(
    Object.entries(settings.subgraphUrls).map(([name, url]) => [name, { location: url }]),
  ),
  upstreamTimeout: settings.subgraphTimeoutMs,
  gracefulShutdownTimeout: settings.shutdownGraceMs,

  logging: log,
  graphqlEndpoint: '/graphql',
  healthCheckEndpoint: '/livez',
  readinessCheckEndpoint: '/readyz',
  landingPage: false,
  graphiql: !production,
  cors:
    settings.corsOrigins.length > 0
      ? {
          origin: settings.corsOrigins,
          credentials: true,
          methods: ['GET', 'POST'],
          allowedHeaders: ['content-type', 'authorization', 'traceparent', 'tracestate'],
          maxAge: 600,
        }
      : false,

  // A present but invalid token is refused (401); no token means anonymous, and the auth
  // directives below decide what an anonymous caller may select.
  jwt: keyStore
    ? {
        // jsonwebtoken takes a KeyObject wherever the plugin's type says PEM text
        signingKeyProviders: [keyStore.signingKey as unknown as (kid?: string) => Promise<string>],
        tokenLookupLocations: [extractFromHeader({ name: 'authorization', prefix: 'Bearer' })],
        tokenVerification: {
          algorithms: ['ES256', 'RS256'],
          issuer: settings.jwtIssuer,
          audience: settings.jwtAudience,
          clockTolerance: 30,
        },
        reject: { missingToken: false, invalidToken: true },
        // Subgraphs verify the forwarded Authorization header themselves; no claims in extensions.
        forward: { payload: false, token: false },
      }
    : undefined,
  genericAuth: {
    mode: 'protect-granular',
    resolveUserFn: (context) =>
      (context as { jwt?: { payload?: AccessTokenClaims } }).jwt?.payload ?? null,
    extractScopes: (claims) => extractScopes(claims as AccessTokenClaims),
    validateUser: validateAccess,
    // Refuse the whole operation, so a mutation with one unauthorized field writes nothing.
    rejectUnauthenticated: true,
  },
  propagateHeaders: {
    fromClientToSubgraphs: ({ request, context }) => ({
      authorization: request.headers.get('authorization'),
      // The client's address as the gateway determined it (a client-sent X-Forwarded-For is
      // not passed on): identity's per-address limits must count clients, not the gateway.
      'x-forwarded-for': clientAddress(context as RequestContext, settings.trustForwardedFor),
      // With tracing on, the OpenTelemetry plugin injects the gateway's own span context.
      ...(tracing
        ? {}
        : {
            traceparent: request.headers.get('traceparent'),
            tracestate: request.headers.get('tracestate'),
          }),
    }),
    // identity's login/registration throttling answers with Retry-After: the client needs it.
    fromSubgraphsToClient: ({ response }) => ({
      'retry-after': response.headers.get('retry-after'),
    }),
    deduplicateHeaders: true,
  },

  maxDepth: settings.maxDepth,
  maxTokens: settings.maxTokens,
  demandControl: {
    maxCost: settings.maxCost,
    listSize: settings.assumedListSize,
    includeExtensionMetadata: !production,
  },
  disableIntrospection: production ? { disableIf: () => true } : undefined,
  persistedDocuments: {
    getPersistedOperation: (id) => persistedOperations.get(id) ?? null,
    allowArbitraryDocuments: !production,
    customErrors: {
      notFound: {
        message: 'Unknown persisted operation',
        extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' },
      },
      persistedQueryOnly: {
        message: 'Only persisted operations are accepted: send their id, not a document',
        extensions: { code: 'PERSISTED_QUERY_ONLY' },
      },
      keyNotFound: {
        message:
          'Send a persisted operation id (extensions.persistedQuery.sha256Hash or documentId)',
        extensions: { code: 'PERSISTED_QUERY_ID_REQUIRED' },
      },
    },
  },

  // The metrics dashboards and alerts read, not the plugin's full default: its per-phase
  // histograms, request summary and deprecated-field scan cost more CPU than the proxying
  // itself (docs/performance.md). Served on the metrics port only (src/metrics.ts).
  prometheus: {
    endpoint: false,
    registry: metricsRegistry,
    metrics: {
      graphql_envelop_request_duration: true,
      graphql_envelop_error_result: true,
      graphql_envelop_schema_change: true,
      graphql_gateway_fetch_duration: true,
      graphql_gateway_subgraph_execute_duration: true,
      graphql_gateway_subgraph_execute_errors: true,
      graphql_envelop_deprecated_field: false,
      graphql_envelop_request: false,
      graphql_envelop_request_time_summary: false,
      graphql_envelop_phase_parse: false,
      graphql_envelop_phase_validate: false,
      graphql_envelop_phase_context: false,
      graphql_envelop_phase_execute: false,
      graphql_envelop_phase_subscribe: false,
      graphql_yoga_http_duration: false,
    },
  },
  openTelemetry: tracing ? { traces: true } : undefined,

  plugins: () => [
    useParsedDocumentForExecution(),
    useClientSafeErrors({ production }),
    metricsServer,
    useRequiredClaims(),
    useJsonRequestsOnly(),
    useRequestSizeLimit(settings.maxRequestBytes),
    useValidUnicode(),
    maxAliasesPlugin({ n: settings.maxAliases }),
    useClientRateLimit({
      redisUrl: settings.redisUrl,
      max: settings.rateLimitMax,
      windowMs: settings.rateLimitWindowMs,
      trustForwardedFor: settings.trustForwardedFor,
    }),
  ],
});
