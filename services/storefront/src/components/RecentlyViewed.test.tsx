import { screen, within } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import { ShopProductDocument } from '../gql/graphql';
import { MAX_VIEWED, rememberViewed } from '../lib/recentlyViewed';
import { Component as ProductPage } from '../pages/ProductPage';
import { product } from '../test/fixtures';
import { renderPage } from '../test/render';

function visit(slug: string, name: string) {
  return renderPage({
    routes: { '/p/:slug': ProductPage },
    url: `/p/${slug}`,
    mocks: [
      {
        request: { query: ShopProductDocument, variables: { slug } },
        result: { data: { __typename: 'Query', productBySlug: product({ slug, name }) } },
      },
    ],
  });
}

describe('recently viewed', () => {
  beforeEach(() => localStorage.clear());

  it('lists the products viewed before, newest first, never the one on screen', async () => {
    const first = visit('nordlys-pro-5', 'Nordlys Pro 5');
    await screen.findByRole('heading', { level: 1, name: 'Nordlys Pro 5' });
    // nothing viewed before the first product
    expect(screen.queryByRole('region', { name: 'Recently viewed' })).not.toBeInTheDocument();
    first.unmount();

    const second = visit('veyra-studio-8', 'Veyra Studio 8');
    await screen.findByRole('heading', { level: 1, name: 'Veyra Studio 8' });
    const row = await screen.findByRole('region', { name: 'Recently viewed' });
    expect(
      within(row)
        .getAllByRole('link')
        .map((link) => link.getAttribute('href')),
    ).toEqual(['/p/nordlys-pro-5']);
    expect(within(row).getByText('$699.00')).toBeInTheDocument();
    second.unmount();

    visit('nordlys-pro-5', 'Nordlys Pro 5');
    const again = await screen.findByRole('region', { name: 'Recently viewed' });
    expect(
      within(again)
        .getAllByRole('link')
        .map((link) => link.getAttribute('href')),
    ).toEqual(['/p/veyra-studio-8']);
  });

  it('keeps the newest few and ignores what it cannot read', () => {
    localStorage.setItem('emporium.recentlyViewed', '{not json');
    for (let i = 0; i < MAX_VIEWED + 3; i += 1) {
      rememberViewed({ slug: `p-${i}`, name: `P ${i}`, price: '$1.00', image: null });
    }
    const kept = JSON.parse(localStorage.getItem('emporium.recentlyViewed') ?? '[]') as {
      slug: string;
    }[];
    expect(kept).toHaveLength(MAX_VIEWED);
    expect(kept[0].slug).toBe(`p-${MAX_VIEWED + 2}`);
  });
});
