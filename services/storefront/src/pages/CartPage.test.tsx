import { ApolloClient, InMemoryCache } from '@apollo/client';
import { MockLink } from '@apollo/client/testing';
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { GraphQLError } from 'graphql';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { useSession } from '../auth/session';
import { connectCart, useCart } from '../cart/store';
import { writeCartToken } from '../cart/token';
import { ShopApplyCouponDocument, ShopSetCartLineQuantityDocument } from '../gql/graphql';
import { cart, cartLine, money } from '../test/cart';
import { renderPage } from '../test/render';
import { Component as CartPage } from './CartPage';

let disconnect: (() => void) | undefined;

function show(mocks: MockLink.MockedResponse[], held = cart()) {
  const client = new ApolloClient({ link: new MockLink(mocks), cache: new InMemoryCache() });
  disconnect = connectCart(client);
  useCart.setState({ cart: held, ready: true });
  return renderPage({ routes: { '/cart': CartPage }, url: '/cart' });
}

beforeEach(() => {
  localStorage.clear();
  writeCartToken('guest-token');
  useSession.setState({ status: 'signedOut', user: null });
  useCart.setState({ cart: null, ready: false, merge: null });
  vi.stubGlobal(
    'fetch',
    vi.fn(
      (_: unknown, init?: RequestInit) =>
        new Promise((_resolve, reject) =>
          init?.signal?.addEventListener('abort', () => reject(new Error('aborted'))),
        ),
    ),
  );
});

afterEach(() => {
  disconnect?.();
  vi.unstubAllGlobals();
});

describe('cart page', () => {
  it('shows price changes, availability, discounts per line and per cart, and totals', async () => {
    const lamp = cartLine('p1', 'Desk Lamp', 2600, {
      priceChange: 'UP',
      unitPriceAtAdd: money(2500),
      discounts: [
        { __typename: 'AppliedDiscount', offerId: 'o1', label: 'Lamp week', amount: money(300) },
      ],
      total: money(2300),
    });
    const chair = cartLine('p2', 'Chair', 9000, {
      priceChange: 'DOWN',
      unitPriceAtAdd: money(9900),
    });
    const gone = cartLine('p3', 'Old Vase', 1000, { available: false, availability: 'ARCHIVED' });
    const held = cart({ lines: [lamp, chair, gone] });
    held.pricing.discounts = [
      {
        __typename: 'AppliedDiscount',
        offerId: 't1',
        label: 'Spend more, save more',
        amount: money(500),
      },
    ];
    held.pricing.notApplied = [
      {
        __typename: 'OfferNotApplied',
        offerId: 'f1',
        label: 'Free shipping over $150',
        reason: 'Add $31.00 more for free shipping',
        code: 'BELOW_MINIMUM',
      },
    ];
    show([], held);
    const lampItem = await screen.findByRole('listitem', { name: 'Desk Lamp' });
    expect(lampItem).toHaveTextContent('Price went up from $25.00 to $26.00');
    expect(within(lampItem).getByRole('list', { name: 'Savings on Desk Lamp' })).toHaveTextContent(
      'Lamp week: −$3.00',
    );
    expect(screen.getByRole('listitem', { name: 'Chair' })).toHaveTextContent(
      'Price dropped from $99.00 to $90.00',
    );
    expect(screen.getByRole('listitem', { name: 'Old Vase' })).toHaveTextContent(
      'No longer sold: remove it or save it for later',
    );
    const summary = screen.getByRole('region', { name: 'Order summary' });
    expect(summary).toHaveTextContent('Spend more, save more−$5.00');
    expect(summary).toHaveTextContent('Add $31.00 more for free shipping.');
    expect(within(summary).getByRole('link', { name: 'Sign in to check out' })).toHaveAttribute(
      'href',
      '/account/sign-in?next=%2Fcheckout',
    );
  });

  it('changes a quantity and shows the cart the service answers', async () => {
    const user = userEvent.setup();
    show([
      {
        request: {
          query: ShopSetCartLineQuantityDocument,
          variables: { input: { cartToken: 'guest-token', productId: 'p1', quantity: 3 } },
        },
        result: {
          data: {
            setCartLineQuantity: cart({
              version: 2,
              lines: [cartLine('p1', 'Desk Lamp', 2500, { quantity: 3 })],
            }),
          },
        },
      },
    ]);
    await user.selectOptions(await screen.findByLabelText('Quantity of Desk Lamp'), '3');
    await vi.waitFor(() => expect(useCart.getState().cart?.itemCount).toBe(3));
    expect(screen.getByText('Subtotal (3 items)')).toBeInTheDocument();
  });

  it('shows the server’s reason under the coupon field', async () => {
    const user = userEvent.setup();
    show([
      {
        request: {
          query: ShopApplyCouponDocument,
          variables: { input: { cartToken: 'guest-token', code: 'OLD5' } },
        },
        result: {
          errors: [
            new GraphQLError('This coupon has expired', {
              extensions: { code: 'COUPON_EXPIRED', kind: 'CONFLICT', field: ['input', 'code'] },
            }),
          ],
        },
      },
    ]);
    await user.type(await screen.findByLabelText('Coupon code'), 'OLD5');
    await user.click(screen.getByRole('button', { name: 'Apply' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('This coupon has expired');
    expect(screen.getByLabelText('Coupon code')).toHaveAttribute('aria-invalid', 'true');
  });

  it('says so when the cart is empty', async () => {
    show([], cart({ lines: [] }));
    expect(await screen.findByText('Your cart is empty.')).toBeInTheDocument();
  });
});
