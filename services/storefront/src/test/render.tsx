// Component tests render pages inside a memory router and Apollo's MockedProvider (with the
// shop's own cache policies), so they exercise routing, URL state and the cache for real.
import { MockedProvider } from '@apollo/client/testing/react';
import type { MockLink } from '@apollo/client/testing';
import { render } from '@testing-library/react';
import type { ComponentType } from 'react';
import { createMemoryRouter, RouterProvider } from 'react-router';
import { createCache } from '../app/apollo';

interface Options {
  /** route pattern → page */
  routes: Record<string, ComponentType>;
  url: string;
  mocks?: MockLink.MockedResponse[];
}

export function renderPage({ routes, url, mocks = [] }: Options) {
  const router = createMemoryRouter(
    [
      ...Object.entries(routes).map(([path, Component]) => ({ path, Component })),
      { path: '*', Component: () => <p>Elsewhere</p> },
    ],
    { initialEntries: [url] },
  );
  const view = render(
    <MockedProvider mocks={mocks} cache={createCache()}>
      <RouterProvider router={router} />
    </MockedProvider>,
  );
  return { ...view, router };
}
