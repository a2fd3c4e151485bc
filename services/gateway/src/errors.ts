// Errors as every client sees them, in development and production alike: a code and a safe
// message, never the gateway's inside (subgraph URLs, the subgraph request with its variables,
// subgraph responses, stacks).
import type { GatewayPlugin } from '@graphql-hive/gateway';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';

/** Extensions that describe the gateway's inside. */
const INTERNAL_EXTENSIONS = [
  'request',
  'response',
  'originalError',
  'stack',
  'stacktrace',
  'exception',
];

/** Failures to reach a subgraph: their messages name internal addresses or echo responses. */
const UPSTREAM_FAILURES: Record<string, string> = {
  GATEWAY_TIMEOUT: 'did not answer in time',
  SUBREQUEST_HTTP_ERROR: 'could not be reached',
  RESPONSE_VALIDATION_FAILED: 'sent an answer that is not a GraphQL response',
};

/** graphql-js's suggestions: ` Did you mean "name"?`, ` Did you mean the enum value "A" or "B"?` */
const SUGGESTION = / ?Did you mean [^?]*\?/g;

type ResultError = GraphQLError | GraphQLFormattedError;
interface Result {
  errors?: readonly ResultError[];
}

/**
 * Rewrites every error of every response, at the last step before it is serialized (so also
 * errors raised while the request was parsed): internal extensions removed, subgraph transport
 * failures reduced to their code and which service failed. In production, no message suggests
 * names ("Did you mean …"): not for fields, arguments, types, enum values or input fields, in
 * documents or in variables, from the gateway or from a subgraph.
 */
export function useClientSafeErrors({ production }: { production: boolean }): GatewayPlugin {
  const safe = (error: ResultError) => safeError(error, production);
  return {
    onResultProcess({ result, setResult }) {
      if (Array.isArray(result)) {
        setResult(result.map((each) => safeResult(each, safe)));
      } else if (isAsyncIterable(result)) {
        setResult(safeStream(result, safe));
      } else {
        setResult(safeResult(result, safe));
      }
    },
  };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Result> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

type Rewrite = (error: ResultError) => ResultError;

async function* safeStream<T extends Result>(results: AsyncIterable<T>, safe: Rewrite) {
  for await (const result of results) yield safeResult(result, safe);
}

function safeResult<T extends Result>(result: T, safe: Rewrite): T {
  if (!result.errors?.length) return result;
  return { ...result, errors: result.errors.map(safe) };
}

function safeError(error: ResultError, production: boolean): ResultError {
  const extensions: Record<string, unknown> = { ...error.extensions };
  for (const key of INTERNAL_EXTENSIONS) delete extensions[key];
  const failure = typeof extensions.code === 'string' ? UPSTREAM_FAILURES[extensions.code] : null;
  const service =
    typeof extensions.serviceName === 'string' ? `The ${extensions.serviceName} service` : null;
  let message = failure ? `${service ?? 'A service'} ${failure}` : error.message;
  if (production) message = message.replace(SUGGESTION, '');
  if (error instanceof GraphQLError) {
    return new GraphQLError(message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      extensions,
    });
  }
  return { ...error, message, extensions };
}
