// Every page is its own chunk, loaded when first visited (React Router's lazy routes).
import { createBrowserRouter, type RouteObject } from 'react-router';
import { AppShellSkeleton, Layout } from './Layout';
import { RouteError } from './RouteError';

export const routes: RouteObject[] = [
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
          { path: 'search', lazy: () => import('../pages/SearchPage') },
          { path: 'c/:slug', lazy: () => import('../pages/SearchPage') },
          { path: 'p/:slug', lazy: () => import('../pages/ProductPage') },
          { path: 'account/sign-in', lazy: () => import('../pages/account/SignIn') },
          { path: 'account/register', lazy: () => import('../pages/account/Register') },
          { path: 'account', lazy: () => import('../pages/account/Profile') },
          { path: 'account/addresses', lazy: () => import('../pages/account/Addresses') },
          { path: '*', lazy: () => import('../pages/NotFound') },
        ],
      },
    ],
  },
];

export function createRouter() {
  return createBrowserRouter(routes);
}
