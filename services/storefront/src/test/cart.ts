// Carts in the shape the gateway answers (with __typename, as Apollo's cache needs).
import type { CartFieldsFragment } from '../gql/graphql';

type CartLine = CartFieldsFragment['lines'][number];

export function money(amount: number) {
  return {
    __typename: 'Money' as const,
    amount,
    currency: 'USD',
    formatted: `$${(amount / 100).toFixed(2)}`,
  };
}

export function cartLine(
  id: string,
  name: string,
  cents: number,
  overrides: Partial<CartLine> = {},
): CartLine {
  const quantity = overrides.quantity ?? 1;
  return {
    __typename: 'CartLine',
    id,
    product: { __typename: 'Product', id, name, slug: `${id}-slug`, images: [] },
    name,
    quantity,
    unitPrice: money(cents),
    unitPriceAtAdd: money(cents),
    priceChange: 'NONE',
    available: true,
    availability: 'IN_STOCK',
    subtotal: money(cents * quantity),
    discounts: [],
    total: money(cents * quantity),
    ...overrides,
  };
}

export function cart(overrides: Partial<CartFieldsFragment> = {}): CartFieldsFragment {
  const lines = overrides.lines ?? [cartLine('p1', 'Desk Lamp', 2500)];
  const subtotal = lines.filter((l) => l.available).reduce((s, l) => s + l.subtotal.amount, 0);
  return {
    __typename: 'Cart',
    id: 'cart-1',
    version: 1,
    currency: 'USD',
    itemCount: lines.reduce((s, l) => s + l.quantity, 0),
    coupons: [],
    lines,
    savedForLater: [],
    pricing: {
      __typename: 'CartPricing',
      subtotal: money(subtotal),
      discounts: [],
      discountTotal: money(0),
      shipping: money(599),
      shippingDiscount: money(0),
      total: money(subtotal + 599),
      notApplied: [],
    },
    ...overrides,
  };
}
