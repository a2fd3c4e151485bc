import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import {
  ShopCategoryTreeDocument,
  ShopSearchDocument,
  ShopSearchMoreDocument,
  type SearchFilter,
} from '../gql/graphql';
import { card, categoryTree, facets, searchResult } from '../test/fixtures';
import { renderPage } from '../test/render';
import { Component as SearchPage } from './SearchPage';

const tree = { request: { query: ShopCategoryTreeDocument }, result: { data: categoryTree() } };

function search(query: string | null, filter: SearchFilter, data: ReturnType<typeof searchResult>) {
  return {
    request: {
      query: ShopSearchDocument,
      variables: { query, filter, sort: 'RELEVANCE', first: 24 },
    },
    result: { data },
  };
}

const phones = [
  card('1', 'Nordlys Pro 5', 'Nordlys', 69900),
  card('2', 'Veyra Mini', 'Veyra', 2999),
];

describe('search results', () => {
  it('lists the hits with the result count and facets', async () => {
    renderPage({
      routes: { '/search': SearchPage },
      url: '/search?q=phone',
      mocks: [tree, search('phone', {}, searchResult(phones, { totalCount: 2 }))],
    });
    expect(
      await screen.findByRole('heading', { level: 1, name: 'Results for “phone”' }),
    ).toBeInTheDocument();
    // the heading shows at once, the count when the results have arrived
    expect(await screen.findByText('2 results')).toBeInTheDocument();
    const results = screen.getByRole('region', { name: 'Results' });
    expect(within(results).getByRole('link', { name: 'Nordlys Pro 5' })).toHaveAttribute(
      'href',
      '/p/nordlys-pro-5-1',
    );
    expect(within(results).getByText('$699.00')).toBeInTheDocument();
    expect(screen.getAllByRole('group', { name: 'Brand' }).length).toBeGreaterThan(0);
  });

  it('puts a chosen facet into the URL and shows the filtered results', async () => {
    const filtered = searchResult([phones[0]], {
      facets: facets({
        brands: [
          { __typename: 'FacetValue', value: 'Nordlys', count: 2, selected: true },
          { __typename: 'FacetValue', value: 'Veyra', count: 1, selected: false },
        ],
      }),
    });
    const { router } = renderPage({
      routes: { '/search': SearchPage },
      url: '/search?q=phone',
      mocks: [
        tree,
        search('phone', {}, searchResult(phones)),
        search('phone', { brands: ['Nordlys'] }, filtered),
      ],
    });
    const aside = await screen.findByRole('complementary', { name: 'Filters' });
    await userEvent.click(await within(aside).findByRole('checkbox', { name: /Nordlys/ }));
    expect(router.state.location.search).toBe('?q=phone&brand=Nordlys');
    expect(await screen.findByText('1 result')).toBeInTheDocument();
    expect(
      screen.getByRole('button', { name: 'Remove filter Brand: Nordlys' }),
    ).toBeInTheDocument();
    // the back button undoes the filter
    await router.navigate(-1);
    expect(await screen.findByText('2 results')).toBeInTheDocument();
  });

  it('offers the corrected query when nothing was found', async () => {
    renderPage({
      routes: { '/search': SearchPage },
      url: '/search?q=xonora',
      mocks: [tree, search('xonora', {}, searchResult([], { didYouMean: 'sonora' }))],
    });
    const link = await screen.findByRole('link', { name: 'sonora' });
    expect(link).toHaveAttribute('href', '/search?q=sonora');
    expect(screen.getByText(/No results for “xonora”/)).toBeInTheDocument();
  });

  it('explains an empty filtered result and clears the filters', async () => {
    const { router } = renderPage({
      routes: { '/search': SearchPage },
      url: '/search?q=phone&brand=Nobody',
      mocks: [
        tree,
        search('phone', { brands: ['Nobody'] }, searchResult([])),
        search('phone', {}, searchResult(phones)),
      ],
    });
    expect(await screen.findByText('No products match these filters.')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Clear filters' }));
    expect(router.state.location.search).toBe('?q=phone');
    expect(await screen.findByText('2 results')).toBeInTheDocument();
  });

  it('loads the next page after the last hit', async () => {
    const next = card('3', 'Orbita Max', 'Orbita', 49900);
    renderPage({
      routes: { '/search': SearchPage },
      url: '/search?q=phone',
      mocks: [
        tree,
        search('phone', {}, searchResult(phones, { totalCount: 3, hasNextPage: true })),
        {
          request: {
            query: ShopSearchMoreDocument,
            variables: {
              query: 'phone',
              filter: {},
              sort: 'RELEVANCE',
              first: 24,
              after: 'cursor-2',
            },
          },
          result: {
            data: {
              __typename: 'Query',
              search: {
                __typename: 'SearchResult',
                totalCount: 3,
                pageInfo: { __typename: 'PageInfo', hasNextPage: false, endCursor: 'cursor-3' },
                edges: [{ __typename: 'SearchEdge', cursor: 'cursor-3', node: next }],
              },
            },
          },
        },
      ],
    });
    await userEvent.click(await screen.findByRole('button', { name: 'Show more results' }));
    expect(await screen.findByRole('link', { name: 'Orbita Max' })).toBeInTheDocument();
    expect(screen.getByText('Showing 3 of 3')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Show more results' })).not.toBeInTheDocument();
    // the facets of the first page stay
    expect(screen.getAllByRole('group', { name: 'Brand' }).length).toBeGreaterThan(0);
  });

  it('serves a category page from the tree with breadcrumbs', async () => {
    renderPage({
      routes: { '/c/:slug': SearchPage },
      url: '/c/phones',
      mocks: [tree, search(null, { categoryId: 'c-phones' }, searchResult(phones))],
    });
    expect(await screen.findByRole('heading', { level: 1, name: 'Phones' })).toBeInTheDocument();
    const crumbs = screen.getByRole('navigation', { name: 'Breadcrumb' });
    expect(within(crumbs).getByRole('link', { name: 'Electronics' })).toHaveAttribute(
      'href',
      '/c/electronics',
    );
    expect(await screen.findByText('2 results')).toBeInTheDocument();
  });

  it('says so in plain language when the search fails', async () => {
    renderPage({
      routes: { '/search': SearchPage },
      url: '/search?q=phone',
      mocks: [
        tree,
        {
          request: {
            query: ShopSearchDocument,
            variables: { query: 'phone', filter: {}, sort: 'RELEVANCE', first: 24 },
          },
          result: {
            errors: [
              {
                message: 'OpenSearch is down',
                extensions: { code: 'SEARCH_UNAVAILABLE', kind: 'UNAVAILABLE' },
              },
            ],
          },
        },
      ],
    });
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Search is not available right now');
    expect(within(alert).getByRole('button', { name: 'Try again' })).toBeInTheDocument();
  });
});
