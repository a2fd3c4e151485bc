// The one Apollo Client: the gateway's endpoint, persisted operations, the session's token
// and a normalised cache with the shop's pagination rules.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import type { DocumentNode } from 'graphql';
import { getAccessToken } from '../auth/session';
import { config } from '../config';

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

export function createCache(): InMemoryCache {
  return new InMemoryCache({
    typePolicies: {
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

export function createApolloClient(): ApolloClient {
  const auth = new SetContextLink(async (previous) => {
    const token = await getAccessToken();
    if (!token) return {};
    return { headers: { ...previous.headers, authorization: `Bearer ${token}` } };
  });
  // The gateway knows every shop document by id (its persisted-operation manifest); only a
  // development gateway that lacks the id is sent the document itself.
  const persisted = new PersistedQueryLink({ generateHash: persistedId });
  const http = new HttpLink({ uri: config.gatewayUrl });
  return new ApolloClient({
    link: ApolloLink.from([auth, persisted, http]),
    cache: createCache(),
  });
}
