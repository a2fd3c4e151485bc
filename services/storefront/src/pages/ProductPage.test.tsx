import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { ShopProductDocument } from '../gql/graphql';
import { product } from '../test/fixtures';
import { renderPage } from '../test/render';
import { Component as ProductPage } from './ProductPage';

function renderProduct(data: ReturnType<typeof product> | null) {
  return renderPage({
    routes: { '/p/:slug': ProductPage },
    url: '/p/nordlys-pro-5',
    mocks: [
      {
        request: { query: ShopProductDocument, variables: { slug: 'nordlys-pro-5' } },
        result: { data: { __typename: 'Query', productBySlug: data } },
      },
    ],
  });
}

describe('product page', () => {
  it('shows the product, its breadcrumbs and every seller’s offer, cheapest first', async () => {
    renderProduct(product());
    expect(
      await screen.findByRole('heading', { level: 1, name: 'Nordlys Pro 5' }),
    ).toBeInTheDocument();
    const crumbs = screen.getByRole('navigation', { name: 'Breadcrumb' });
    expect(
      within(crumbs)
        .getAllByRole('link')
        .map((link) => link.textContent),
    ).toEqual(['Home', 'Electronics', 'Phones']);
    expect(screen.getByText('$699.00')).toBeInTheDocument();
    expect(
      screen.getByText(
        (_, element) => element?.textContent === 'from $679.00 at Northwind Traders',
      ),
    ).toBeInTheDocument();
    const offers = screen.getByRole('region', { name: 'Offers from 2 sellers' });
    const rows = within(offers).getAllByRole('listitem');
    expect(rows[0]).toHaveTextContent('Northwind Traders');
    expect(rows[0]).toHaveTextContent('Lowest price');
    expect(rows[0]).toHaveTextContent('Backorder');
    expect(rows[1]).toHaveTextContent('Contoso Goods');
    expect(screen.getByText('Midnight')).toBeInTheDocument();
    // no picture: a labelled placeholder instead of a broken image
    expect(screen.getByRole('img', { name: 'Nordlys Pro 5' })).toBeInTheDocument();
  });

  it('marks an archived product as no longer available, without offers', async () => {
    renderProduct(product({ status: 'ARCHIVED', availability: 'DISCONTINUED', listings: [] }));
    expect(await screen.findByText('This product is no longer available')).toBeInTheDocument();
    expect(screen.getByText('No longer available')).toBeInTheDocument();
    expect(screen.queryByRole('region', { name: /Offers/ })).not.toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'See more in Phones' })).toHaveAttribute(
      'href',
      '/c/phones',
    );
  });

  it('says when there is no such product', async () => {
    renderProduct(null);
    expect(
      await screen.findByRole('heading', { level: 1, name: 'We could not find that page' }),
    ).toBeInTheDocument();
  });
});
