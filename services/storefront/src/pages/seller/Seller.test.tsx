import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { MockLink } from '@apollo/client/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { useSession } from '../../auth/session';
import {
  ShopAdjustStockDocument,
  ShopMeDocument,
  ShopSellerProductsDocument,
  ShopSellerStockDocument,
  ShopUpsertListingDocument,
  type SellerProductFragment,
} from '../../gql/graphql';
import { renderPage } from '../../test/render';
import { Component as Seller } from './Seller';

const SELLER_ID = 'sel_1';

function signedInAs(roles: string[]) {
  useSession.setState({
    status: 'signedIn',
    user: { id: 'usr_1', email: 'seller@example.com', roles },
  });
}

const me = {
  request: { query: ShopMeDocument },
  result: {
    data: {
      me: {
        __typename: 'User' as const,
        id: 'usr_1',
        email: 'seller@example.com',
        emailVerified: true,
        hasPassword: true,
        displayName: 'Acme',
        phone: null,
        locale: null,
        roles: ['CUSTOMER', 'SELLER'],
        sellerId: SELLER_ID,
      },
    },
  },
};

const lamp: SellerProductFragment = {
  __typename: 'Product',
  id: 'prd_1',
  slug: 'desk-lamp',
  name: 'Desk lamp',
  brand: 'Lumen',
  sku: 'LMN-1',
  status: 'ACTIVE',
  ownerSellerId: SELLER_ID,
  listings: [
    {
      __typename: 'Listing',
      sellerId: SELLER_ID,
      sku: 'LMN-1',
      availability: 'IN_STOCK',
      price: { __typename: 'Money', amount: 2499, currency: 'USD', formatted: '$24.99' },
    },
  ],
};

const products = {
  request: { query: ShopSellerProductsDocument, variables: { sellerId: SELLER_ID } },
  result: {
    data: {
      products: {
        __typename: 'ProductConnection' as const,
        totalCount: 1,
        edges: [{ __typename: 'ProductEdge' as const, node: lamp }],
        pageInfo: { __typename: 'PageInfo' as const, hasNextPage: false, endCursor: null },
      },
    },
  },
};

beforeEach(() => {
  useSession.setState({ status: 'signedOut', user: null });
});

/** The seller area of a signed-in seller with one product, answering ``mocks`` too. */
function renderSeller(mocks: MockLink.MockedResponse[]) {
  signedInAs(['CUSTOMER', 'SELLER']);
  return renderPage({
    routes: { '/seller': Seller },
    url: '/seller',
    mocks: [me, products, ...mocks],
  });
}

describe('seller area', () => {
  it('tells a customer the area is for sellers', () => {
    signedInAs(['CUSTOMER']);
    renderPage({ routes: { '/seller': Seller }, url: '/seller' });
    expect(screen.getByRole('heading', { name: 'This area is for sellers' })).toBeInTheDocument();
  });

  it('sends the signed-out to sign in first', () => {
    renderPage({ routes: { '/seller': Seller }, url: '/seller' });
    expect(screen.getByText('Elsewhere')).toBeInTheDocument();
  });

  it('shows a server field error under the offer field it belongs to', async () => {
    renderSeller([
      {
        request: {
          query: ShopUpsertListingDocument,
          variables: {
            productId: 'prd_1',
            input: {
              sellerId: SELLER_ID,
              sku: 'LMN-1',
              price: { amount: 9999999, currency: 'USD' },
              availability: 'IN_STOCK',
            },
          },
        },
        result: {
          errors: [
            {
              message: 'This price is above what the shop accepts',
              extensions: {
                code: 'VALIDATION_FAILED',
                kind: 'VALIDATION_FAILED',
                field: ['input', 'price', 'amount'],
              },
            },
          ],
        },
      },
    ]);
    // a skeleton while the products load
    expect(screen.getByRole('status')).toHaveTextContent('Loading');
    const row = (await screen.findByRole('heading', { name: 'Desk lamp' })).closest('li')!;
    expect(within(row).getByText('$24.99')).toBeInTheDocument();
    await userEvent.click(
      within(row).getByRole('button', { name: 'Change your offer on Desk lamp' }),
    );
    const price = within(row).getByLabelText('Price (USD)');
    expect(price).toHaveValue('24.99');
    await userEvent.clear(price);
    await userEvent.type(price, 'cheap');
    await userEvent.click(within(row).getByRole('button', { name: 'Save offer' }));
    expect(price).toHaveAccessibleDescription('Enter an amount such as 24.99');
    await userEvent.clear(price);
    await userEvent.type(price, '99999.99');
    await userEvent.click(within(row).getByRole('button', { name: 'Save offer' }));
    expect(
      await within(row).findByText('This price is above what the shop accepts'),
    ).toBeInTheDocument();
    expect(price).toHaveAttribute('aria-invalid', 'true');
    expect(within(row).getByRole('alert')).toHaveTextContent(
      'Please check the highlighted fields.',
    );
  });

  it('shows each SKU’s stock and adjusts it, refusing what the service would', async () => {
    const stock = (onHand: number, version: number) => ({
      __typename: 'InventoryStock' as const,
      sku: 'LMN-1',
      onHand,
      reserved: 2,
      available: onHand - 2,
      version,
    });
    renderSeller([
      {
        request: { query: ShopSellerStockDocument, variables: { skus: ['LMN-1'] } },
        result: { data: { __typename: 'Query', inventoryStocks: [stock(10, 4)] } },
      },
      {
        request: {
          query: ShopAdjustStockDocument,
          variables: {
            input: { sku: 'LMN-1', delta: -9, reason: 'count', expectedVersion: 4 },
          },
        },
        result: {
          errors: [
            {
              message: 'On hand cannot drop below the 2 units held for orders',
              extensions: {
                code: 'STOCK_BELOW_RESERVED',
                kind: 'CONFLICT',
                field: ['input', 'delta'],
              },
            },
          ],
        },
      },
      {
        request: {
          query: ShopAdjustStockDocument,
          variables: {
            input: { sku: 'LMN-1', delta: 5, reason: 'delivery', expectedVersion: 4 },
          },
        },
        result: { data: { __typename: 'Mutation', adjustInventoryStock: stock(15, 5) } },
      },
    ]);
    const row = (await screen.findByRole('heading', { name: 'Desk lamp' })).closest('li')!;
    expect(await within(row).findByText('10 in stock · 2 held for orders')).toBeInTheDocument();
    await userEvent.click(
      within(row).getByRole('button', { name: 'Adjust your stock of Desk lamp' }),
    );
    const units = within(row).getByLabelText('Units to add');
    const reason = within(row).getByLabelText('Reason');
    // checked as the service checks it, before anything is sent
    await userEvent.type(units, '0');
    await userEvent.click(within(row).getByRole('button', { name: 'Save stock' }));
    expect(units).toHaveAccessibleDescription(/Use a number other than 0/);
    expect(reason).toHaveAccessibleDescription(/This field is required/);
    // the service's refusal lands on the field it names
    await userEvent.clear(units);
    await userEvent.type(units, '-9');
    await userEvent.type(reason, 'count');
    await userEvent.click(within(row).getByRole('button', { name: 'Save stock' }));
    expect(
      await within(row).findByText('On hand cannot drop below the 2 units held for orders'),
    ).toBeInTheDocument();
    expect(units).toHaveAttribute('aria-invalid', 'true');
    // a delivery: the row shows the new level
    await userEvent.clear(units);
    await userEvent.type(units, '5');
    await userEvent.clear(reason);
    await userEvent.type(reason, 'delivery');
    await userEvent.click(within(row).getByRole('button', { name: 'Save stock' }));
    expect(await within(row).findByText('15 in stock · 2 held for orders')).toBeInTheDocument();
    expect(within(row).queryByLabelText('Units to add')).not.toBeInTheDocument();
  });
});
