// Keeps the document an operation executes identical (the same object) to the cached parse of
// its text, so every cache keyed by the document object hits: the query plan, the rate
// limiter's root-field count, demand control's cost.
import type { GatewayPlugin } from '@graphql-hive/gateway';
import type { DocumentNode } from 'graphql';

/**
 * The auth-directive check (`genericAuth`, `protect-granular`) hands execution a sanitised copy
 * of the document on every request, even when it removed nothing, and the query planner caches
 * plans by document object: each request was planned afresh (docs/performance.md). With
 * `rejectUnauthenticated` an operation with any unauthorized field never executes, so an
 * operation that does execute had nothing removed and its parsed document is equivalent; this
 * puts the parsed one back. Must come after `genericAuth` (built-in plugins run first).
 */
export function useParsedDocumentForExecution(): GatewayPlugin {
  const parsed = new WeakMap<object, DocumentNode>();
  return {
    onParse({ context }) {
      return ({ result }) => {
        if (result && !(result instanceof Error)) parsed.set(context, result as DocumentNode);
      };
    },
    onExecute({ args }) {
      const document = parsed.get(args.contextValue as object);
      if (document) args.document = document;
    },
  };
}
