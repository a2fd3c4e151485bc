// The one Apollo Client: the gateway's endpoint, persisted operations, the session's token
// and a normalised cache with the shop's pagination rules.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import type { DocumentNode } from 'graphql';
import { getAccessToken } from '../auth/session';
import { config } from '../config';
import { earlyRequests, persistedGetUrl } from './persistedGet';

interface SearchResultRef {
  edges?: unknown[];
  [field: string]: unknown;
}

/** The id GraphQL Code Generator gave this document (src/gql/persisted-documents.json). */
export function persistedId(document: DocumentNode): string {
  const hash = (document as { __meta__?: { hash?: string } }).__meta__?.hash;
  if (!hash) throw new Error('Only generated documents can be sent (src/graphql/*.graphql)');
  return hash;
}

/**
 * How persisted queries travel. Apollo sends them as GET with `operationName`, `variables`
 * and `extensions.persistedQuery`; this spells them `?documentId=…&variables=…` in one
 * canonical form (src/app/persistedGet.ts), so a request the early script already started
 * for this page is used instead of a second one. Apollo also labels every request
 * `content-type: application/json`, which makes a cross-origin GET "non-simple" and costs a
 * CORS preflight round trip; a GET has no body to describe. A query that names a guest cart
 * by its token goes as POST instead.
 */
export function gatewayFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  if (init?.method !== 'GET') return fetch(input, init);
  const apollo = new URL(String(input));
  const extensions = JSON.parse(apollo.searchParams.get('extensions') ?? '{}') as {
    persistedQuery?: { sha256Hash?: string };
  };
  const headers = new Headers(init.headers);
  headers.delete('content-type');
  const documentId = extensions.persistedQuery?.sha256Hash;
  if (!documentId || apollo.searchParams.has('query')) return fetch(input, { ...init, headers });
  const variables = JSON.parse(apollo.searchParams.get('variables') ?? '{}') as Record<
    string,
    unknown
  >;
  if (variables.cartToken) {
    // a guest cart's token is its only key: never in a URL (logs, caches, history)
    headers.set('content-type', 'application/json');
    const body = JSON.stringify({
      operationName: apollo.searchParams.get('operationName') ?? undefined,
      variables,
      extensions,
    });
    return fetch(`${apollo.origin}${apollo.pathname}`, { ...init, method: 'POST', headers, body });
  }
  const url = persistedGetUrl(`${apollo.origin}${apollo.pathname}`, documentId, variables);
  // the early request went without a token: only an anonymous request may take its answer
  const early = headers.has('authorization') ? undefined : earlyRequests.take(url);
  return early ?? fetch(url, { ...init, headers });
}

export function createCache(): InMemoryCache {
  return new InMemoryCache({
    typePolicies: {
      // a SKU's stock is known by its SKU: an adjustment updates every list that shows it
      InventoryStock: { keyFields: ['sku'] },
      Query: {
        fields: {
          search: {
            // one list per query, filter and sort; "show more" pages append to it
            keyArgs: ['query', 'filter', 'sort'],
            merge(
              existing: SearchResultRef | undefined,
              incoming: SearchResultRef,
              { args },
            ): SearchResultRef {
              if (!existing || !args?.after) return { ...existing, ...incoming };
              return {
                ...existing,
                ...incoming,
                edges: [...(existing.edges ?? []), ...(incoming.edges ?? [])],
              };
            },
          },
        },
      },
    },
  });
}

export interface ClientOptions {
  /** The gateway's endpoint: the shop's configured one unless a server render says. */
  uri?: string;
  /** How a request goes out (a server render adds its own headers and deadline). */
  fetch?: typeof fetch;
  /** A server render: anonymous, every query answered once and kept for the browser. */
  ssrMode?: boolean;
}

export function createApolloClient({
  uri = config.gatewayUrl,
  fetch = gatewayFetch,
  ssrMode = false,
}: ClientOptions = {}): ApolloClient {
  const auth = new SetContextLink(async (previous) => {
    const token = await getAccessToken();
    if (!token) return {};
    return { headers: { ...previous.headers, authorization: `Bearer ${token}` } };
  });
  // The gateway knows every shop document by id (its persisted-operation manifest); only a
  // development gateway that lacks the id is sent the document itself. Queries sent by id go
  // as GET: cacheable, and without a body a signed-out shopper's request needs no CORS
  // preflight (mutations and documents stay POST).
  const persisted = new PersistedQueryLink({
    generateHash: persistedId,
    useGETForHashedQueries: true,
  });
  const http = new HttpLink({ uri, fetch });
  return new ApolloClient({
    link: ApolloLink.from(ssrMode ? [persisted, http] : [auth, persisted, http]),
    cache: createCache(),
    ssrMode,
  });
}
