// Every page is its own chunk, loaded when first visited (React Router's lazy routes). The
// product and search routes start their query while the chunk loads (the page's own useQuery
// then joins the request in flight instead of waiting for the code first).
import type { ApolloClient } from '@apollo/client';
import {
  createBrowserRouter,
  type HydrationState,
  type LazyRouteFunction,
  type LoaderFunctionArgs,
  matchRoutes,
  type RouteObject,
} from 'react-router';
import { ShopProductDocument, ShopSearchDocument } from '../gql/graphql';
import { parseSearchParams, searchVariables } from '../search/params';
import { AppShellSkeleton, Layout } from './Layout';
import { RouteError } from './RouteError';
import table from './routes.json';

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

// every file under pages/ (tests aside) is a route module; routes.json says which path shows
// which, and the static server reads the same table to preload a page's chunk with the HTML
const pages = import.meta.glob<Awaited<ReturnType<LazyRouteFunction<RouteObject>>>>([
  '../pages/**/*.tsx',
  '!../pages/**/*.test.tsx',
]);

const loaders = { product: prefetchProduct, search: prefetchSearch };

function pageRoutes(client: ApolloClient): RouteObject[] {
  return table.map(({ path, page, prefetch }) => {
    const lazy = pages[`../pages/${page}.tsx`];
    if (!lazy) throw new Error(`routes.json: no page module pages/${page}.tsx`);
    const loader = prefetch ? loaders[prefetch as keyof typeof loaders](client) : undefined;
    return path ? { path, loader, lazy } : { index: true, loader, lazy };
  });
}

export function routes(client: ApolloClient): RouteObject[] {
  return [
    {
      path: '/',
      Component: Layout,
      // shown until the first page's chunk has arrived
      HydrateFallback: AppShellSkeleton,
      ErrorBoundary: RouteError,
      children: [{ ErrorBoundary: RouteError, children: pageRoutes(client) }],
    },
  ];
}

export function createRouter(client: ApolloClient) {
  return createBrowserRouter(routes(client));
}

/**
 * The router for a page the server rendered (src/entry-server.tsx): the page's lazy routes
 * are loaded first and its loaders' data taken from the server, so the first render is the
 * server's markup, not the loading fallback.
 */
export async function createHydratingRouter(client: ApolloClient, hydrationData: HydrationState) {
  const tree = routes(client);
  await Promise.all(
    (matchRoutes(tree, window.location) ?? []).map(async ({ route }) => {
      if (typeof route.lazy !== 'function') return;
      const module = await (route.lazy as LazyRouteFunction<RouteObject>)();
      Object.assign(route, { ...module, lazy: undefined });
    }),
  );
  return createBrowserRouter(tree, { hydrationData });
}
