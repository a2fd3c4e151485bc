// Errors in plain language. The gateway and the subgraphs answer with GraphQL errors whose
// extensions carry a stable `code` and, for input problems, the `field` path and every
// problem in `errors` (docs/identity.md); this turns them into what a shopper reads.
import { CombinedGraphQLErrors, ServerError } from '@apollo/client/errors';
import { SessionError } from '../auth/session';

export interface FieldProblem {
  code: string;
  message: string;
  field: (string | number)[] | null;
}

export interface ProblemReport {
  /** The first error's code (INVALID_CREDENTIALS, RATE_LIMITED, ...), or NETWORK. */
  code: string;
  /** One sentence for the shopper. */
  message: string;
  /** Input problems by field name (the last segment of the input path). */
  fields: Record<string, string>;
  /** Seconds to wait, when the server said so. */
  retryAfter?: number;
}

interface ErrorShape {
  message: string;
  extensions?: Record<string, unknown>;
}

const MESSAGES: Record<string, string> = {
  NETWORK: 'We could not reach Emporium. Check your connection and try again.',
  INTERNAL_SERVER_ERROR: 'Something went wrong on our side. Please try again.',
  GATEWAY_TIMEOUT: 'This is taking longer than it should. Please try again.',
  SUBREQUEST_HTTP_ERROR: 'Part of Emporium is not answering right now. Please try again soon.',
  UNAVAILABLE: 'Part of Emporium is not answering right now. Please try again soon.',
  SEARCH_UNAVAILABLE: 'Search is not available right now. Please try again soon.',
  DEPENDENCY_UNAVAILABLE: 'Part of Emporium is not answering right now. Please try again soon.',
  INDEX_NOT_READY: 'Search is getting ready. Please try again in a minute.',
  AUTHENTICATION_REQUIRED: 'Please sign in to continue.',
  UNAUTHENTICATED: 'Please sign in to continue.',
  NO_SESSION: 'Please sign in to continue.',
  INVALID_REFRESH_TOKEN: 'Your session has ended. Please sign in again.',
  REFRESH_TOKEN_REUSED: 'Your session was ended for your safety. Please sign in again.',
  REGISTRATION_REJECTED: 'We could not create an account with these details.',
  INVALID_CURSOR: 'These results changed. Please start the search again.',
  PERSISTED_QUERY_NOT_FOUND: 'This version of the shop is out of date. Please reload the page.',
  PERSISTED_QUERY_ONLY: 'This version of the shop is out of date. Please reload the page.',
};

function waitMessage(seconds: number | undefined): string {
  if (!seconds) return 'Too many attempts. Please wait a moment and try again.';
  if (seconds < 90) return `Too many attempts. Please try again in ${seconds} seconds.`;
  return `Too many attempts. Please try again in ${Math.ceil(seconds / 60)} minutes.`;
}

function fromErrors(errors: readonly ErrorShape[]): ProblemReport {
  const first = errors[0];
  const ext = first?.extensions ?? {};
  const code = typeof ext.code === 'string' ? ext.code : 'INTERNAL_SERVER_ERROR';
  const kind = typeof ext.kind === 'string' ? ext.kind : undefined;
  const retryAfter = typeof ext.retryAfter === 'number' ? ext.retryAfter : undefined;
  const problems = Array.isArray(ext.errors) ? (ext.errors as FieldProblem[]) : [];
  const fields: Record<string, string> = {};
  for (const problem of problems.length > 0 ? problems : [ext as unknown as FieldProblem]) {
    const path = Array.isArray(problem.field) ? problem.field : null;
    const name = path?.filter((part) => typeof part === 'string').at(-1);
    if (name && !fields[name]) fields[name] = problem.message ?? first.message;
  }
  let message: string;
  if (code === 'RATE_LIMITED' || code === 'ACCOUNT_LOCKED' || kind === 'RATE_LIMITED') {
    message = waitMessage(retryAfter);
  } else if (kind === 'VALIDATION_FAILED' || Object.keys(fields).length > 0) {
    message = 'Please check the highlighted fields.';
  } else {
    // identity and catalog write their messages for people; codes we know read better
    message = MESSAGES[code] ?? (kind ? first.message : MESSAGES.INTERNAL_SERVER_ERROR);
  }
  return { code, message, fields, retryAfter };
}

/** Whatever an Apollo call or a session call threw, as something to show. */
export function describeError(error: unknown): ProblemReport {
  if (CombinedGraphQLErrors.is(error)) return fromErrors(error.errors);
  if (error instanceof SessionError) {
    if (error.code === 'RATE_LIMITED' || error.code === 'ACCOUNT_LOCKED') {
      return { code: error.code, message: waitMessage(error.retryAfter), fields: {} };
    }
    return { code: error.code, message: MESSAGES[error.code] ?? error.message, fields: {} };
  }
  if (ServerError.is(error)) {
    try {
      const body = JSON.parse(error.bodyText) as { errors?: ErrorShape[] };
      if (body.errors?.length) return fromErrors(body.errors);
    } catch {
      // not a GraphQL answer
    }
    return { code: 'UNAVAILABLE', message: MESSAGES.UNAVAILABLE, fields: {} };
  }
  return { code: 'NETWORK', message: MESSAGES.NETWORK, fields: {} };
}
