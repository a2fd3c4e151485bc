import { ApolloClient, InMemoryCache } from '@apollo/client';
import { MockLink } from '@apollo/client/testing';
import { GraphQLError } from 'graphql';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { useSession } from '../auth/session';
import {
  ShopAddToCartDocument,
  ShopCreateGuestCartDocument,
  ShopMergeCartDocument,
} from '../gql/graphql';
import { cart, cartLine } from '../test/cart';
import { accept, addToCart, connectCart, useCart } from './store';
import { readCartToken, writeCartToken } from './token';

let disconnect: (() => void) | undefined;

function connect(mocks: MockLink.MockedResponse[]) {
  const client = new ApolloClient({ link: new MockLink(mocks), cache: new InMemoryCache() });
  disconnect = connectCart(client);
}

beforeEach(() => {
  localStorage.clear();
  useCart.setState({ cart: null, ready: false, merge: null });
  useSession.setState({ status: 'signedOut', user: null });
  // the live stream (and a session refresh) would reach the network: held open, answered never
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

describe('the cart store', () => {
  it('keeps the newest version of a cart, whatever order answers arrive in', () => {
    accept(cart({ version: 3, itemCount: 3 }));
    accept(cart({ version: 2, itemCount: 2 }));
    expect(useCart.getState().cart?.itemCount).toBe(3);
    accept(cart({ id: 'cart-2', version: 1, itemCount: 1 }));
    expect(useCart.getState().cart?.itemCount).toBe(1);
  });

  it('starts a guest cart on the first add and keeps its token for the next', async () => {
    const added = cart({ version: 1 });
    const twice = cart({ version: 2, lines: [cartLine('p1', 'Desk Lamp', 2500, { quantity: 2 })] });
    connect([
      {
        request: { query: ShopCreateGuestCartDocument },
        result: {
          data: {
            createGuestCart: {
              __typename: 'GuestCart',
              token: 'guest-token',
              cart: cart({ version: 0, lines: [] }),
            },
          },
        },
      },
      {
        request: {
          query: ShopAddToCartDocument,
          variables: { input: { cartToken: 'guest-token', productId: 'p1', quantity: 1 } },
        },
        result: { data: { addToCart: added } },
      },
      {
        request: {
          query: ShopAddToCartDocument,
          variables: { input: { cartToken: 'guest-token', productId: 'p1', quantity: 1 } },
        },
        result: { data: { addToCart: twice } },
      },
    ]);
    await addToCart('p1');
    expect(readCartToken()).toBe('guest-token');
    expect(useCart.getState().cart?.itemCount).toBe(1);
    await addToCart('p1');
    expect(useCart.getState().cart?.itemCount).toBe(2);
  });

  it('replaces a guest cart the service no longer knows and adds again', async () => {
    writeCartToken('spent-token');
    connect([
      {
        request: {
          query: ShopAddToCartDocument,
          variables: { input: { cartToken: 'spent-token', productId: 'p1', quantity: 1 } },
        },
        result: {
          errors: [new GraphQLError('Cart merged', { extensions: { code: 'CART_MERGED' } })],
        },
      },
      {
        request: { query: ShopCreateGuestCartDocument },
        result: {
          data: {
            createGuestCart: {
              __typename: 'GuestCart',
              token: 'fresh-token',
              cart: cart({ lines: [] }),
            },
          },
        },
      },
      {
        request: {
          query: ShopAddToCartDocument,
          variables: { input: { cartToken: 'fresh-token', productId: 'p1', quantity: 1 } },
        },
        result: { data: { addToCart: cart({ id: 'cart-9' }) } },
      },
    ]);
    await addToCart('p1');
    expect(readCartToken()).toBe('fresh-token');
    expect(useCart.getState().cart?.id).toBe('cart-9');
  });

  it('merges the guest cart at sign-in, keeps the report and forgets the token', async () => {
    writeCartToken('guest-token');
    const merged = cart({
      id: 'user-cart',
      version: 7,
      lines: [cartLine('p1', 'Desk Lamp', 2500, { quantity: 99 })],
    });
    connect([
      {
        request: { query: ShopMergeCartDocument, variables: { guestToken: 'guest-token' } },
        result: {
          data: {
            mergeCart: {
              __typename: 'CartMerge',
              cart: merged,
              lines: [
                {
                  __typename: 'MergedLine',
                  productId: 'p1',
                  requested: 5,
                  added: 2,
                  quantity: 99,
                  outcome: 'CAPPED',
                  reason: null,
                },
              ],
              coupons: ['WELCOME10'],
              alreadyMerged: false,
            },
          },
        },
      },
    ]);
    useSession.setState({
      status: 'signedIn',
      user: { id: 'u1', email: 'ada@example.com', roles: ['CUSTOMER'] },
    });
    await vi.waitFor(() => expect(useCart.getState().merge).not.toBeNull());
    const report = useCart.getState().merge!;
    expect(report.lines[0]).toMatchObject({ outcome: 'CAPPED', added: 2 });
    expect(report.names.p1).toBe('Desk Lamp');
    expect(report.coupons).toEqual(['WELCOME10']);
    expect(useCart.getState().cart?.id).toBe('user-cart');
    expect(readCartToken()).toBeNull();
  });
});

describe('a shopper without a cart', () => {
  it('is told so once the session is known, without opening a stream', async () => {
    useSession.setState({ status: 'unknown', user: null });
    connect([]);
    expect(useCart.getState().ready).toBe(false);
    useSession.setState({ status: 'signedOut', user: null });
    expect(useCart.getState()).toMatchObject({ ready: true, cart: null });
    expect(fetch).not.toHaveBeenCalled();
  });
});
