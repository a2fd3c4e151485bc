import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { GraphQLError } from 'graphql';
import { beforeEach, describe, expect, it } from 'vitest';
import { useSession } from '../../auth/session';
import { useCart } from '../../cart/store';
import {
  ShopAddressesDocument,
  ShopPlaceOrderDocument,
  type AddressFieldsFragment,
  type PlaceOrderInput,
} from '../../gql/graphql';
import { cart } from '../../test/cart';
import { renderPage } from '../../test/render';
import { Component as Checkout, newIdempotencyKey } from './Checkout';

function address(id: string, fullName: string, isDefaultShipping: boolean): AddressFieldsFragment {
  return {
    __typename: 'Address',
    id,
    label: null,
    fullName,
    line1: '1 Main Street',
    line2: null,
    city: 'Berlin',
    region: null,
    postalCode: '10115',
    country: 'DE',
    phone: null,
    isDefaultShipping,
    isDefaultBilling: isDefaultShipping,
  };
}

const addresses = {
  request: { query: ShopAddressesDocument },
  result: {
    data: {
      me: {
        __typename: 'User',
        id: 'u1',
        addresses: [address('a1', 'Ada Lovelace', false), address('a2', 'Ada at work', true)],
      },
    },
  },
};

type PlaceVariables = { input: PlaceOrderInput };

function placing(calls: PlaceVariables[], result: object, delay = 50) {
  return {
    request: {
      query: ShopPlaceOrderDocument,
      variables: (variables: PlaceVariables) => {
        calls.push(variables);
        return true;
      },
    },
    result,
    delay,
    maxUsageCount: 10,
  };
}

function show(mocks: object[]) {
  return renderPage({
    routes: { '/checkout': Checkout, '/account/orders/:id': () => <p>Order page</p> },
    url: '/checkout',
    mocks: [addresses, ...mocks] as never,
  });
}

beforeEach(() => {
  useSession.setState({
    status: 'signedIn',
    user: { id: 'u1', email: 'ada@example.com', roles: ['CUSTOMER'] },
  });
  useCart.setState({ cart: cart(), ready: true, merge: null });
});

describe('checkout', () => {
  it('keys every attempt as the order service requires', () => {
    const key = newIdempotencyKey();
    expect(key).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
    expect(newIdempotencyKey()).not.toBe(key);
  });

  it('places one order however often the button is pressed, then follows it', async () => {
    const user = userEvent.setup();
    const calls: PlaceVariables[] = [];
    show([
      placing(
        calls,
        { data: { placeOrder: { __typename: 'Order', id: 'ord-1', status: 'PENDING' } } },
        500,
      ),
    ]);
    // the default shipping address is chosen; the declined test card is one choice away
    expect(await screen.findByRole('radio', { name: /Ada at work/ })).toBeChecked();
    await user.click(screen.getByRole('radio', { name: /Test card: declined/ }));
    const summary = screen.getByRole('region', { name: 'Order summary' });
    expect(within(summary).getByText('1 × Desk Lamp')).toBeInTheDocument();
    const button = screen.getByRole('button', { name: 'Place order · $30.99' });
    await user.dblClick(button);
    expect(screen.getByRole('button', { name: 'Placing your order…' })).toBeDisabled();
    expect(await screen.findByText('Order page', {}, { timeout: 5_000 })).toBeInTheDocument();
    expect(calls).toHaveLength(1);
    expect(calls[0].input).toMatchObject({
      paymentMethod: 'pm_card_chargeDeclined',
      shippingAddress: {
        name: 'Ada at work',
        line1: '1 Main Street',
        line2: null,
        city: 'Berlin',
        postalCode: '10115',
        country: 'DE',
      },
    });
  });

  it('retries a lost answer with the same key, and a refused attempt with a new one', async () => {
    const user = userEvent.setup();
    const calls: PlaceVariables[] = [];
    const lost = {
      request: {
        query: ShopPlaceOrderDocument,
        variables: (variables: PlaceVariables) => {
          calls.push(variables);
          return true;
        },
      },
      error: new TypeError('Failed to fetch'),
    };
    const refused = placing(calls, {
      errors: [
        new GraphQLError('Your cart changed', {
          extensions: { code: 'CART_CHANGED', kind: 'CONFLICT', field: ['cart', 'version'] },
        }),
      ],
    });
    refused.maxUsageCount = 1;
    const placed = placing(calls, {
      data: { placeOrder: { __typename: 'Order', id: 'ord-2', status: 'PENDING' } },
    });
    show([lost, refused, placed]);
    const button = await screen.findByRole('button', { name: /^Place order/ });
    await screen.findByRole('radio', { name: /Ada at work/, checked: true });
    await user.click(button);
    expect(await screen.findByRole('alert')).toHaveTextContent('We could not reach Emporium');
    await user.click(button);
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Your cart changed while you were checking out',
    );
    await user.click(button);
    expect(await screen.findByText('Order page')).toBeInTheDocument();
    const keys = calls.map((call) => call.input.idempotencyKey);
    expect(keys).toHaveLength(3);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).not.toBe(keys[1]);
  });

  it('shows the order service’s address problems with the address', async () => {
    const user = userEvent.setup();
    show([
      placing([], {
        errors: [
          new GraphQLError('Use a postal code of Germany', {
            extensions: {
              code: 'VALIDATION_FAILED',
              kind: 'VALIDATION_FAILED',
              field: ['input', 'shippingAddress', 'postalCode'],
            },
          }),
        ],
      }),
    ]);
    await screen.findByRole('radio', { name: /Ada at work/, checked: true });
    await user.click(screen.getByRole('button', { name: /^Place order/ }));
    const shipping = screen.getByRole('region', { name: '1. Shipping address' });
    expect(await within(shipping).findByRole('alert')).toHaveTextContent(
      'Postal code: Use a postal code of Germany',
    );
  });
});
