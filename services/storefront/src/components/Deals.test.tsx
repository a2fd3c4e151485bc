import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import {
  type OfferTargetKind,
  ShopCategoryTreeDocument,
  ShopDealsDocument,
  type ShopDealsQuery,
} from '../gql/graphql';
import { Component as Home } from '../pages/Home';
import { categoryTree } from '../test/fixtures';
import { renderPage } from '../test/render';
import { Deals } from './Deals';

type Deal = ShopDealsQuery['deals'][number];

function deal(id: string, label: string, target: Deal['target'], more: Partial<Deal> = {}): Deal {
  return { __typename: 'Deal', id, label, target, minSubtotal: null, endsAt: null, ...more };
}

function renderDeals(deals: Deal[], page = () => <Deals />) {
  return renderPage({
    routes: { '/': page },
    url: '/',
    mocks: [
      {
        request: { query: ShopDealsDocument },
        result: { data: { __typename: 'Query', deals } },
      },
      {
        request: { query: ShopCategoryTreeDocument },
        result: { data: categoryTree() },
      },
    ],
  });
}

const target = (kind: OfferTargetKind, values: string[] = []): Deal['target'] => ({
  __typename: 'OfferTarget',
  kind,
  values,
});

describe('the home page’s deals', () => {
  it('says what each deal applies to, links where to shop it, and when it ends', async () => {
    renderDeals([
      deal('1', 'Free shipping over $50', target('CART'), { minSubtotal: 5000 }),
      deal('2', 'Phones 10% off', target('CATEGORY', ['c-phones']), {
        endsAt: '2026-12-31T23:00:00Z',
      }),
      deal('3', 'Nordlys week', target('BRAND', ['Nordlys'])),
      deal('4', 'Lamp deal', target('PRODUCT', ['p-1'])),
    ]);
    expect(await screen.findByRole('heading', { name: 'Today’s deals' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'On orders over $50' })).toHaveAttribute(
      'href',
      '/search',
    );
    expect(await screen.findByRole('link', { name: 'In Phones' })).toHaveAttribute(
      'href',
      '/c/phones',
    );
    expect(screen.getByText('Ends Dec 31, 2026')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'From Nordlys' })).toHaveAttribute(
      'href',
      '/search?brand=Nordlys',
    );
    expect(screen.getByText('On selected products')).toBeInTheDocument();
  });

  it('leaves the home page without a deals row while there are none', async () => {
    renderDeals([], Home);
    // the categories answer after the deals
    expect(await screen.findByRole('link', { name: 'Shop all Electronics' })).toBeInTheDocument();
    expect(screen.queryByRole('heading', { name: 'Today’s deals' })).not.toBeInTheDocument();
  });
});
