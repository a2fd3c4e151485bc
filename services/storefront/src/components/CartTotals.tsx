import type { Cart } from '../cart/store';

/** The free-shipping message: reached, or what is missing (the cart service's own words). */
export function ShippingProgress({ cart }: { cart: Cart }) {
  const { shipping, shippingDiscount, notApplied } = cart.pricing;
  const free = shipping.amount > 0 && shippingDiscount.amount >= shipping.amount;
  const missing = notApplied.find(
    (entry) => entry.code === 'BELOW_MINIMUM' && /free shipping/i.test(entry.reason),
  );
  if (free) {
    return (
      <p className="rounded-md bg-emerald-50 p-3 text-sm font-medium text-emerald-900">
        Your order ships free.
      </p>
    );
  }
  if (!missing) return null;
  return (
    <p className="rounded-md bg-amber-50 p-3 text-sm font-medium text-amber-950">
      {missing.reason}.
    </p>
  );
}

/** Subtotal, each discount, shipping and the total, as the cart service priced them. */
export function CartTotals({ cart }: { cart: Cart }) {
  const { pricing } = cart;
  const free =
    pricing.shipping.amount > 0 && pricing.shippingDiscount.amount >= pricing.shipping.amount;
  return (
    <dl className="space-y-2 text-sm">
      <div className="flex justify-between">
        <dt>
          Subtotal ({cart.itemCount} {cart.itemCount === 1 ? 'item' : 'items'})
        </dt>
        <dd>{pricing.subtotal.formatted}</dd>
      </div>
      {pricing.discounts.map((discount) => (
        <div key={discount.offerId} className="flex justify-between text-emerald-800">
          <dt>{discount.label}</dt>
          <dd>−{discount.amount.formatted}</dd>
        </div>
      ))}
      <div className="flex justify-between">
        <dt>Shipping</dt>
        <dd>
          {free ? (
            <>
              <span className="mr-1 text-slate-600 line-through">{pricing.shipping.formatted}</span>
              Free
            </>
          ) : (
            pricing.shipping.formatted
          )}
        </dd>
      </div>
      <div className="flex justify-between border-t border-slate-200 pt-2 text-base font-semibold">
        <dt>Total</dt>
        <dd data-testid="cart-total">{pricing.total.formatted}</dd>
      </div>
    </dl>
  );
}
