// Every page is its own chunk, loaded when first visited (React Router's lazy routes). The
// product and search routes start their query while the chunk loads (the page's own useQuery
// then joins the request in flight instead of waiting for the code first).
import type { ApolloClient } from '@apollo/client';
import { createBrowserRouter, type LoaderFunctionArgs, type RouteObject } from 'react-router';
import { ShopProductDocument, ShopSearchDocument } from '../gql/graphql';
import { parseSearchParams, searchVariables } from '../search/params';
import { AppShellSkeleton, Layout } from './Layout';
import { RouteError } from './RouteError';

function prefetchProduct(client: ApolloClient) {
  return ({ params }: LoaderFunctionArgs) => {
    if (params.slug) {
      client.query({ query: ShopProductDocument, variables: { slug: params.slug } }).catch(() => {
        // the page's own query reports the failure
      });
    }
    return null;
  };
}

function prefetchSearch(client: ApolloClient) {
  return ({ request }: LoaderFunctionArgs) => {
    const variables = searchVariables(parseSearchParams(new URL(request.url).searchParams));
    client.query({ query: ShopSearchDocument, variables }).catch(() => {
      // the page's own query reports the failure
    });
    return null;
  };
}

export function routes(client: ApolloClient): RouteObject[] {
  return [
    {
      path: '/',
      Component: Layout,
      // shown until the first page's chunk has arrived
      HydrateFallback: AppShellSkeleton,
      ErrorBoundary: RouteError,
      children: [
        {
          ErrorBoundary: RouteError,
          children: [
            { index: true, lazy: () => import('../pages/Home') },
            {
              path: 'search',
              loader: prefetchSearch(client),
              lazy: () => import('../pages/SearchPage'),
            },
            { path: 'c/:slug', lazy: () => import('../pages/SearchPage') },
            {
              path: 'p/:slug',
              loader: prefetchProduct(client),
              lazy: () => import('../pages/ProductPage'),
            },
            { path: 'account/sign-in', lazy: () => import('../pages/account/SignIn') },
            { path: 'account/register', lazy: () => import('../pages/account/Register') },
            { path: 'account', lazy: () => import('../pages/account/Profile') },
            { path: 'account/addresses', lazy: () => import('../pages/account/Addresses') },
            { path: 'cart', lazy: () => import('../pages/CartPage') },
            { path: 'checkout', lazy: () => import('../pages/checkout/Checkout') },
            { path: 'account/orders', lazy: () => import('../pages/account/Orders') },
            { path: 'account/orders/:id', lazy: () => import('../pages/account/OrderPage') },
            { path: 'seller', lazy: () => import('../pages/seller/Seller') },
            { path: 'admin', lazy: () => import('../pages/admin/Admin') },
            { path: '*', lazy: () => import('../pages/NotFound') },
          ],
        },
      ],
    },
  ];
}

export function createRouter(client: ApolloClient) {
  return createBrowserRouter(routes(client));
}
