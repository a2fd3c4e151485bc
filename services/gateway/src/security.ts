// The gateway's own security pieces: request size limit, accepted content types, valid
// Unicode, required token claims, client identity, how token claims map to @requiresScopes scopes, and the auth
// directive check.
import type { GatewayPlugin, ValidateUserFn } from '@graphql-hive/gateway';
import { GraphQLError } from 'graphql';

/** The verified access-token claims the gateway uses (issued by identity). */
export interface AccessTokenClaims {
  sub: string;
  exp?: unknown;
  iss?: unknown;
  aud?: unknown;
  roles?: unknown;
  scope?: unknown;
  scp?: unknown;
}

export interface RequestContext {
  jwt?: { payload?: AccessTokenClaims };
  request?: Request;
  req?: { socket?: { remoteAddress?: string } };
}

function jsonError(status: number, code: string, message: string) {
  return new Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
}

/**
 * Rejects request bodies over `maxBytes` before anything reads them. A body must declare its
 * length: Node's HTTP parser then never hands over more than the declared bytes, so checking
 * Content-Length is enough. Chunked bodies are refused (411); browsers and GraphQL clients
 * send a length for their JSON bodies.
 */
export function useRequestSizeLimit(maxBytes: number): GatewayPlugin {
  return {
    onRequest({ request, endResponse }) {
      if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') {
        return;
      }
      const declared = request.headers.get('content-length');
      if (declared === null) {
        if (request.headers.get('transfer-encoding')) {
          endResponse(
            jsonError(411, 'LENGTH_REQUIRED', 'Send the request body with a Content-Length'),
          );
        }
        return;
      }
      const length = Number(declared);
      if (!Number.isSafeInteger(length) || length < 0) {
        endResponse(jsonError(400, 'BAD_REQUEST', 'Invalid Content-Length'));
      } else if (length > maxBytes) {
        endResponse(
          jsonError(
            413,
            'REQUEST_TOO_LARGE',
            `Request body of ${length} bytes exceeds the limit of ${maxBytes} bytes`,
          ),
        );
      }
    },
  };
}

/**
 * CSRF prevention: a POST must be `application/json` (optionally `charset=utf-8`), the one
 * request media type of GraphQL over HTTP (`application/graphql-response+json` is a response
 * type; JSON is UTF-8 by RFC 8259). Browsers send form-encoded, multipart and text/plain bodies
 * cross-site without asking (simple requests); a JSON body needs a CORS preflight, which only
 * the configured origins pass. Everything else is refused with 415 before it is parsed. GET
 * runs queries only: Hive Gateway refuses mutations over GET (405).
 */
export function useJsonRequestsOnly(): GatewayPlugin {
  return {
    onRequest({ request, endResponse }) {
      if (request.method === 'POST' && !isJsonContentType(request.headers.get('content-type'))) {
        endResponse(
          jsonError(
            415,
            'UNSUPPORTED_MEDIA_TYPE',
            'Send operations as application/json (POST) or as a query string (GET, queries only)',
          ),
        );
      }
    },
  };
}

function isJsonContentType(header: string | null): boolean {
  if (!header) return false;
  const [type, ...parameters] = header.split(';').map((part) => part.trim().toLowerCase());
  return (
    type === 'application/json' &&
    parameters.every((parameter) => /^charset=(utf-8|"utf-8")$/.test(parameter))
  );
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });
/** A UTF-16 surrogate that is not half of a pair (with the `u` flag, pairs are one code point). */
const LONE_SURROGATE = /\p{Surrogate}/u;

function invalidUnicode(): GraphQLError {
  return new GraphQLError(
    'The request is not valid Unicode: it holds bytes that are not UTF-8 or an unpaired ' +
      'surrogate (such as \\ud800) in a string',
    { extensions: { code: 'INVALID_UNICODE', http: { status: 400 } } },
  );
}

function badJson(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
}

type RequestParser = Parameters<
  Parameters<NonNullable<GatewayPlugin['onRequestParse']>>[0]['setRequestParser']
>[0];

/** A POST body as JSON, refusing bytes that are not UTF-8 instead of replacing them. */
const parseStrictJson: RequestParser = async (request) => {
  const bytes = await request.arrayBuffer();
  let text: string;
  try {
    text = STRICT_UTF8.decode(bytes);
  } catch {
    throw invalidUnicode();
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badJson('POST body sent invalid JSON.');
  }
  if (typeof body !== 'object' || body === null) {
    throw badJson('POST body is expected to be a JSON object');
  }
  return body as Awaited<ReturnType<RequestParser>>;
};

/** Whether any string or object key in `value` holds a lone surrogate (walked without recursion). */
function holdsLoneSurrogate(value: unknown): boolean {
  const pending = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === 'string') {
      if (LONE_SURROGATE.test(item)) return true;
    } else if (typeof item === 'object' && item !== null) {
      for (const [key, child] of Object.entries(item)) {
        if (LONE_SURROGATE.test(key)) return true;
        pending.push(child);
      }
    }
  }
  return false;
}

/**
 * Refuses a request that is not valid Unicode (400 `INVALID_UNICODE`) before any of it is used:
 * a POST body with bytes that are not UTF-8 (Yoga's parser would replace them silently), and
 * an unpaired surrogate escaped in the JSON (`"\ud800"`) anywhere in the query, variables,
 * operation name or extensions, of a POST or a GET. JSON.parse accepts such escapes, but no
 * subgraph can encode the string, so it would fail deep inside one as an internal error.
 */
export function useValidUnicode(): GatewayPlugin {
  return {
    onRequestParse({ request, setRequestParser }) {
      // only JSON reaches here (useJsonRequestsOnly)
      if (request.method === 'POST') setRequestParser(parseStrictJson);
      return {
        onRequestParseDone({ requestParserResult }) {
          if (holdsLoneSurrogate(requestParserResult)) throw invalidUnicode();
        },
      };
    },
  };
}

/**
 * Refuses (401, like any bad token) a correctly signed token that lacks a claim the services'
 * verifier requires: `exp`, `sub`, `iss`, `aud`. The JWT plugin checks `exp`, `iss` and `aud`
 * only when present; a token without `exp` would never expire. Runs after the JWT plugin has
 * verified the token (built-in plugins come first) and before anything else reads it.
 */
export function useRequiredClaims(): GatewayPlugin {
  return {
    onRequestParse({ serverContext }) {
      const claims = (serverContext as RequestContext).jwt?.payload;
      if (claims && !hasRequiredClaims(claims)) {
        throw new GraphQLError('Unauthenticated', { extensions: { http: { status: 401 } } });
      }
    },
  };
}

function hasRequiredClaims(claims: AccessTokenClaims): boolean {
  return (
    typeof claims.exp === 'number' &&
    typeof claims.sub === 'string' &&
    claims.sub !== '' &&
    claims.iss !== undefined &&
    claims.aud !== undefined
  );
}

/**
 * The client's address: the socket's peer, or with `trustForwardedFor` (one trusted proxy in
 * front, e.g. the ingress) the last X-Forwarded-For entry, the one that proxy appended;
 * earlier entries are client-controlled. Also sent to the subgraphs as X-Forwarded-For, so
 * identity's per-address limits count clients, not the gateway.
 */
export function clientAddress(context: RequestContext, trustForwardedFor: boolean): string | null {
  if (trustForwardedFor) {
    const forwarded = context.request?.headers.get('x-forwarded-for');
    const last = forwarded?.split(',').pop()?.trim();
    if (last) return last;
  }
  return context.req?.socket?.remoteAddress ?? null;
}

/** Who a request counts against: the verified token subject, else the client address. */
export function clientIdentity(context: RequestContext, trustForwardedFor: boolean): string {
  const subject = context.jwt?.payload?.sub;
  if (typeof subject === 'string' && subject) return `sub:${subject}`;
  return `ip:${clientAddress(context, trustForwardedFor) ?? 'unknown'}`;
}

/**
 * Scopes for @requiresScopes: the token's OAuth scopes (`scope` string or `scp` list) plus
 * `role:<name>` for each of its roles, so a field can require `[["role:admin"]]`.
 */
export function extractScopes(claims: AccessTokenClaims | null | undefined): string[] {
  if (!claims) return [];
  const scopes: string[] = [];
  if (typeof claims.scope === 'string') {
    scopes.push(...claims.scope.split(' ').filter(Boolean));
  } else if (Array.isArray(claims.scp)) {
    scopes.push(...claims.scp.filter((s) => typeof s === 'string'));
  }
  if (Array.isArray(claims.roles)) {
    for (const role of claims.roles) if (typeof role === 'string') scopes.push(`role:${role}`);
  }
  return scopes;
}

function accessError(
  params: { fieldNode: unknown; path: ReadonlyArray<string | number> },
  message: string,
  forbidden: boolean,
) {
  return new GraphQLError(message, {
    nodes: params.fieldNode as never,
    path: params.path,
    extensions: forbidden
      ? { code: 'MISSING_SCOPE', kind: 'FORBIDDEN', http: { status: 403 } }
      : { code: 'AUTHENTICATION_REQUIRED', kind: 'UNAUTHENTICATED', http: { status: 401 } },
  });
}

/**
 * The @authenticated / @requiresScopes check (generic-auth's, with errors that tell the two
 * cases apart): no verified token -> 401 AUTHENTICATION_REQUIRED; a token without any of the
 * required scope sets -> 403 MISSING_SCOPE naming what the field needs. @policy is not used by
 * Emporium and is refused for everyone rather than silently allowed.
 */
export const validateAccess: ValidateUserFn<Record<string, unknown>> = (params) => {
  const coordinate = `${params.parentType.name}.${params.field.name}`;
  const scopeSets = [params.typeScopes, params.fieldScopes].filter(
    (sets): sets is string[][] => Array.isArray(sets) && sets.length > 0,
  );
  const policies = [params.typePolicies, params.fieldPolicies].some((p) => p?.length);
  const authenticated = Boolean(params.typeAuthArgs || params.fieldAuthArgs);
  if (!authenticated && scopeSets.length === 0 && !policies) return;
  if (params.user == null) return accessError(params, `Sign in to select ${coordinate}`, false);
  if (policies) {
    return accessError(params, `${coordinate} is guarded by @policy, which is not granted`, true);
  }
  for (const alternatives of scopeSets) {
    const granted = alternatives.some((all) => all.every((s) => params.userScopes.includes(s)));
    if (!granted) {
      const needed = alternatives.map((all) => all.join(' + ')).join(' or ');
      return accessError(params, `${coordinate} requires ${needed}`, true);
    }
  }
};
