// The app: its client, session, cart and router, drawn into #root, or hydrating the markup a
// server render put there (src/entry-server.tsx).
import { ApolloProvider } from '@apollo/client/react';
import { StrictMode } from 'react';
import { createRoot, hydrateRoot } from 'react-dom/client';
import type { DataRouter } from 'react-router';
import { RouterProvider } from 'react-router/dom';
import { createApolloClient } from './apollo';
import { createHydratingRouter, createRouter } from './router';
import { forgetAccountOnSignOut } from './account-cache';
import { readServerState } from './serverState';
import { restoreSession } from '../auth/session';
import { connectCart } from '../cart/store';

const client = createApolloClient();
// a page the server rendered brings the answers it was drawn from
const state = readServerState();
if (state) client.restore(state.apollo);
forgetAccountOnSignOut(client);
connectCart(client);
void restoreSession();

function shop(router: DataRouter) {
  return (
    <StrictMode>
      <ApolloProvider client={client}>
        <RouterProvider router={router} />
      </ApolloProvider>
    </StrictMode>
  );
}

const root = document.getElementById('root')!;
if (state) hydrateRoot(root, shop(await createHydratingRouter(client, state.router)));
else createRoot(root).render(shop(createRouter(client)));
