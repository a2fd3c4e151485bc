import type { ApolloClient } from '@apollo/client';
import { useSession } from '../auth/session';

/**
 * When the signed-in account changes (sign-out, an expired session, another account signing
 * in), drop everything cached about the previous one: nothing of it stays in this tab.
 */
export function forgetAccountOnSignOut(client: ApolloClient): () => void {
  return useSession.subscribe((now, before) => {
    if (before.user && now.user?.id !== before.user.id) {
      client.cache.evict({ id: 'ROOT_QUERY', fieldName: 'me' });
      client.cache.gc();
    }
  });
}
