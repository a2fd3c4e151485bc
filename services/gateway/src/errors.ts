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

type ResultError = GraphQLError | GraphQLFormattedError;
interface Result {
  errors?: readonly ResultError[];
}

/**
 * Rewrites every error of every response, at the last step before it is serialized (so also
 * errors raised while the request was parsed): internal extensions removed, subgraph transport
 * failures reduced to their code and which service failed.
 */
export function useClientSafeErrors(): GatewayPlugin {
  return {
    onResultProcess({ result, setResult }) {
      if (Array.isArray(result)) {
        setResult(result.map((each) => safeResult(each)));
      } else if (isAsyncIterable(result)) {
        setResult(safeStream(result));
      } else {
        setResult(safeResult(result));
      }
    },
  };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Result> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

async function* safeStream<T extends Result>(results: AsyncIterable<T>): AsyncIterable<T> {
  for await (const result of results) yield safeResult(result);
}

function safeResult<T extends Result>(result: T): T {
  if (!result.errors?.length) return result;
  return { ...result, errors: result.errors.map(safeError) };
}

function safeError(error: ResultError): ResultError {
  const extensions: Record<string, unknown> = { ...error.extensions };
  for (const key of INTERNAL_EXTENSIONS) delete extensions[key];
  const failure = typeof extensions.code === 'string' ? UPSTREAM_FAILURES[extensions.code] : null;
  const service =
    typeof extensions.serviceName === 'string' ? `The ${extensions.serviceName} service` : null;
  const message = failure ? `${service ?? 'A service'} ${failure}` : error.message;
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
