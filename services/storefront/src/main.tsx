import { ApolloProvider } from '@apollo/client/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { RouterProvider } from 'react-router/dom';
import { createApolloClient } from './app/apollo';
import { createRouter } from './app/router';
import { forgetAccountOnSignOut } from './app/account-cache';
import { restoreSession } from './auth/session';
import { connectCart } from './cart/store';
import { config } from './config';
import './index.css';

// The gateway answers the first page's data: open the connection while the code loads.
const preconnect = document.createElement('link');
preconnect.rel = 'preconnect';
preconnect.href = new URL(config.gatewayUrl).origin;
preconnect.crossOrigin = 'anonymous';
document.head.append(preconnect);

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
