import { ApolloClient, ApolloLink, InMemoryCache } from '@apollo/client';
import { matchRoutes, type RouteObject } from 'react-router';
import { describe, expect, it } from 'vitest';
import { routes } from './router';
import table from './routes.json';

const modules = import.meta.glob<{ Component?: unknown }>([
  '../pages/**/*.tsx',
  '!../pages/**/*.test.tsx',
]);

describe('the route table', () => {
  it('routes every page module, and only page modules', () => {
    const routed = new Set(table.map(({ page }) => `../pages/${page}.tsx`));
    expect(routed).toEqual(new Set(Object.keys(modules)));
  });

  it("opens each path's page", async () => {
    const client = new ApolloClient({ cache: new InMemoryCache(), link: ApolloLink.empty() });
    const tree = routes(client);
    for (const { path, page } of table) {
      const url = `/${path.replace(/:\w+/g, 'x').replace('*', 'no/such/page')}`;
      const route = matchRoutes(tree, url)?.at(-1)?.route as RouteObject;
      const lazy = route.lazy as () => Promise<{ Component?: unknown }>;
      const { Component } = await modules[`../pages/${page}.tsx`]();
      expect((await lazy()).Component, url).toBe(Component);
    }
  });
});
