import { ApolloProvider } from '@apollo/client/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { RouterProvider } from 'react-router/dom';
import { createApolloClient } from './app/apollo';
import { createRouter } from './app/router';
import { forgetAccountOnSignOut } from './app/account-cache';
import { restoreSession } from './auth/session';
import { connectCart } from './cart/store';
import './index.css';

const client = createApolloClient();
forgetAccountOnSignOut(client);
connectCart(client);
void restoreSession();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ApolloProvider client={client}>
      <RouterProvider router={createRouter(client)} />
    </ApolloProvider>
  </StrictMode>,
);
