import { useMutation, useQuery } from '@apollo/client/react';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { useCallback, useEffect, useId, useRef, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { RequireSession } from '../../auth/RequireSession';
import { useCart, type Cart } from '../../cart/store';
import { AddressForm, EMPTY_ADDRESS, inputOf } from '../../components/AddressForm';
import { CartTotals, ShippingProgress } from '../../components/CartTotals';
import { ErrorNotice } from '../../components/ErrorNotice';
import { FormAlert } from '../../components/FormField';
import { PageSkeleton, Skeleton } from '../../components/Skeleton';
import {
  ShopAddAddressDocument,
  ShopAddressesDocument,
  ShopPlaceOrderDocument,
  type AddressFieldsFragment,
} from '../../gql/graphql';
import { countryName } from '../../lib/countries';
import { describeError } from '../../lib/errors';

/** The local payment provider's test methods (Stripe's test payment methods, stripe-mock). */
export const PAYMENT_METHODS = [
  { id: 'pm_card_visa', label: 'Test card: Visa ending 4242', hint: 'The payment is approved' },
  {
    id: 'pm_card_chargeDeclined',
    label: 'Test card: declined',
    hint: 'The card issuer declines the payment',
  },
] as const;

// What the order service's refusals mean for the shopper (docs/checkout.md)
const PLACE_ERRORS: Record<string, string> = {
  CART_EMPTY: 'Your cart is empty.',
  LINE_UNAVAILABLE: 'Something in your cart can no longer be ordered. Please review your cart.',
  LINE_UNCONFIRMED:
    'We could not confirm a price in your cart just now. Please try again in a moment.',
  LINE_NOT_SOLD: 'Something in your cart is not sold any more. Please review your cart.',
  CART_CHANGED: 'Your cart changed while you were checking out. Please review it and try again.',
  COUPON_EXHAUSTED: 'A coupon on your cart has been used up. Remove it from your cart to go on.',
  COUPON_USED: 'You have used a coupon on your cart already. Remove it from your cart to go on.',
  COUPON_EXPIRED: 'A coupon on your cart has expired. Remove it from your cart to go on.',
  IDEMPOTENCY_KEY_REUSED: 'Your cart changed while you were checking out. Please try again.',
};

const FIELD_LABELS: Record<string, string> = {
  name: 'Name',
  line1: 'Address line 1',
  line2: 'Address line 2',
  city: 'City',
  postalCode: 'Postal code',
  country: 'Country',
  email: 'Email',
  paymentMethod: 'Payment method',
};

/** The order service's address: the book's, without what an order does not keep. */
export function shippingAddressOf(address: AddressFieldsFragment) {
  return {
    name: address.fullName,
    line1: address.line1,
    line2: address.line2 || null,
    city: address.city,
    postalCode: address.postalCode,
    country: address.country,
  };
}

/** A fresh key for one checkout attempt (8–64 of A-Z, a-z, 0-9, _ and -). */
export function newIdempotencyKey(): string {
  return `co-${crypto.randomUUID()}`;
}

function AddressChoice({
  addresses,
  selected,
  onSelect,
}: {
  addresses: AddressFieldsFragment[];
  selected: string | null;
  onSelect: (id: string) => void;
}) {
  return (
    <ul className="grid gap-3 sm:grid-cols-2">
      {addresses.map((address) => (
        <li key={address.id}>
          <label
            className={`flex h-full cursor-pointer gap-3 rounded-lg border bg-white p-3 text-sm ${
              selected === address.id
                ? 'border-amber-500 ring-2 ring-amber-500'
                : 'border-slate-200'
            }`}
          >
            <input
              type="radio"
              name="shipping-address"
              value={address.id}
              checked={selected === address.id}
              onChange={() => onSelect(address.id)}
              className="mt-1 h-4 w-4 accent-amber-600"
            />
            <span>
              <span className="font-semibold">{address.fullName}</span>
              {address.label && <span className="text-slate-700"> · {address.label}</span>}
              <br />
              {address.line1}
              {address.line2 && `, ${address.line2}`}
              <br />
              {address.postalCode} {address.city}, {countryName(address.country)}
            </span>
          </label>
        </li>
      ))}
    </ul>
  );
}

function ShippingStep({
  selected,
  onSelect,
  serverProblems,
}: {
  selected: string | null;
  onSelect: (address: AddressFieldsFragment | null) => void;
  serverProblems: Record<string, string>;
}) {
  const { data, error, refetch } = useQuery(ShopAddressesDocument);
  const [add] = useMutation(ShopAddAddressDocument);
  const [adding, setAdding] = useState(false);
  const addresses = data?.me?.addresses;
  const chosen = addresses?.find((address) => address.id === selected) ?? null;
  // the default shipping address until the shopper picks one
  useEffect(() => {
    if (!addresses || selected !== null || addresses.length === 0) return;
    onSelect(addresses.find((address) => address.isDefaultShipping) ?? addresses[0]);
  }, [addresses, selected, onSelect]);
  const problems = Object.entries(serverProblems);
  return (
    <section
      aria-labelledby="shipping-heading"
      className="rounded-lg border border-slate-200 bg-white p-4"
    >
      <h2 id="shipping-heading" className="text-lg font-semibold">
        1. Shipping address
      </h2>
      {error && !data && <ErrorNotice error={error} onRetry={() => void refetch()} />}
      {!addresses && !error && (
        <div role="status" className="mt-3 grid gap-3 sm:grid-cols-2">
          <span className="sr-only">Loading your addresses…</span>
          <Skeleton className="h-24" />
          <Skeleton className="h-24" />
        </div>
      )}
      {addresses && (
        <fieldset className="mt-3">
          <legend className="sr-only">Choose where to ship</legend>
          {addresses.length === 0 && !adding && (
            <p className="text-sm text-slate-700">Add the address your order should go to.</p>
          )}
          <AddressChoice
            addresses={addresses}
            selected={selected}
            onSelect={(id) => onSelect(addresses.find((address) => address.id === id) ?? null)}
          />
        </fieldset>
      )}
      {problems.length > 0 && chosen && (
        <div
          role="alert"
          className="mt-3 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-900"
        >
          <p className="font-semibold">This address cannot be used for an order:</p>
          <ul className="mt-1 list-disc pl-5">
            {problems.map(([field, message]) => (
              <li key={field}>
                {FIELD_LABELS[field] ?? field}: {message}
              </li>
            ))}
          </ul>
        </div>
      )}
      {addresses &&
        (adding || addresses.length === 0 ? (
          <div className="mt-4 border-t border-slate-200 pt-4">
            <h3 className="mb-3 font-semibold">New address</h3>
            <AddressForm
              initial={EMPTY_ADDRESS}
              submitLabel="Use this address"
              askDefaults={addresses.length > 0}
              onCancel={addresses.length > 0 ? () => setAdding(false) : undefined}
              onSubmit={async (draft, defaults) => {
                const known = new Set(addresses.map((address) => address.id));
                const result = await add({
                  variables: {
                    input: {
                      ...inputOf(draft),
                      defaultShipping: defaults.shipping,
                      defaultBilling: defaults.billing,
                    },
                  },
                });
                const added = result.data?.addAddress.addresses.find(
                  (address) => !known.has(address.id),
                );
                if (added) onSelect(added);
                setAdding(false);
              }}
            />
          </div>
        ) : (
          <button
            type="button"
            onClick={() => setAdding(true)}
            className="mt-3 text-sm font-medium text-sky-800 hover:underline"
          >
            Add a new address
          </button>
        ))}
    </section>
  );
}

function PaymentStep({ method, onChange }: { method: string; onChange: (method: string) => void }) {
  const idPrefix = useId();
  return (
    <section
      aria-labelledby="payment-heading"
      className="rounded-lg border border-slate-200 bg-white p-4"
    >
      <h2 id="payment-heading" className="text-lg font-semibold">
        2. Payment
      </h2>
      <fieldset className="mt-3 space-y-2">
        <legend className="text-sm text-slate-700">
          This shop takes test payments only: choose a test card.
        </legend>
        {PAYMENT_METHODS.map((option) => (
          <div
            key={option.id}
            className={`flex gap-3 rounded-lg border p-3 text-sm ${
              method === option.id ? 'border-amber-500 ring-2 ring-amber-500' : 'border-slate-200'
            }`}
          >
            <input
              id={`${idPrefix}-${option.id}`}
              type="radio"
              name="payment-method"
              value={option.id}
              checked={method === option.id}
              onChange={() => onChange(option.id)}
              aria-describedby={`${idPrefix}-${option.id}-hint`}
              className="mt-1 h-4 w-4 accent-amber-600"
            />
            <div>
              <label htmlFor={`${idPrefix}-${option.id}`} className="cursor-pointer font-medium">
                {option.label}
              </label>
              <p id={`${idPrefix}-${option.id}-hint`} className="text-slate-700">
                {option.hint}
              </p>
            </div>
          </div>
        ))}
      </fieldset>
    </section>
  );
}

function OrderSummary({ cart }: { cart: Cart }) {
  return (
    <section
      aria-labelledby="summary-heading"
      className="space-y-4 rounded-lg border border-slate-200 bg-white p-4"
    >
      <h2 id="summary-heading" className="text-lg font-semibold">
        Order summary
      </h2>
      <ul className="divide-y divide-slate-200 text-sm">
        {cart.lines.map((line) => (
          <li key={line.id} className="flex justify-between gap-3 py-2">
            <span>
              {line.quantity} × {line.name}
              {!line.available && (
                <span className="block font-medium text-red-700">Not available: not ordered</span>
              )}
              {line.discounts.map((discount) => (
                <span key={discount.offerId} className="block text-emerald-800">
                  {discount.label}: −{discount.amount.formatted}
                </span>
              ))}
            </span>
            <span>{line.available ? line.total.formatted : '—'}</span>
          </li>
        ))}
      </ul>
      <ShippingProgress cart={cart} />
      <CartTotals cart={cart} />
      <p className="text-xs text-slate-600">
        <Link to="/cart" className="underline">
          Change your cart
        </Link>
      </p>
    </section>
  );
}

interface Attempt {
  key: string;
  request: string;
}

function CheckoutForm({ cart }: { cart: Cart }) {
  const navigate = useNavigate();
  const [address, setAddress] = useState<AddressFieldsFragment | null>(null);
  const [method, setMethod] = useState<string>(PAYMENT_METHODS[0].id);
  const [placeOrder] = useMutation(ShopPlaceOrderDocument);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [addressProblems, setAddressProblems] = useState<Record<string, string>>({});
  // one key per checkout attempt: kept when the answer was lost (a retry must find the same
  // order), replaced once the service has answered or the request differs
  const attempt = useRef<Attempt | null>(null);
  const inFlight = useRef(false);
  const selectAddress = useCallback((chosen: AddressFieldsFragment | null) => {
    setAddress(chosen);
    setAddressProblems({});
  }, []);

  async function place() {
    if (inFlight.current) return;
    if (!address) {
      setError('Choose a shipping address.');
      return;
    }
    inFlight.current = true;
    setBusy(true);
    setError(null);
    setAddressProblems({});
    const input = { shippingAddress: shippingAddressOf(address), paymentMethod: method };
    const request = JSON.stringify({ input, cart: cart.id, version: cart.version });
    if (attempt.current?.request !== request) {
      attempt.current = { key: newIdempotencyKey(), request };
    }
    try {
      const { data } = await placeOrder({
        variables: { input: { ...input, idempotencyKey: attempt.current.key } },
      });
      if (!data) throw new Error('no answer');
      navigate(`/account/orders/${data.placeOrder.id}`);
    } catch (problem) {
      if (CombinedGraphQLErrors.is(problem)) attempt.current = null;
      const report = describeError(problem);
      const fields = { ...report.fields };
      const path = CombinedGraphQLErrors.is(problem) ? problem.errors[0]?.extensions?.field : null;
      if (Array.isArray(path) && path.includes('shippingAddress')) setAddressProblems(fields);
      setError(PLACE_ERRORS[report.code] ?? report.message);
    } finally {
      inFlight.current = false;
      setBusy(false);
    }
  }

  const orderable = cart.lines.some((line) => line.available);
  return (
    <div className="mt-6 grid gap-6 lg:grid-cols-[1fr_22rem]">
      <div className="space-y-6">
        <ShippingStep
          selected={address?.id ?? null}
          onSelect={selectAddress}
          serverProblems={addressProblems}
        />
        <PaymentStep method={method} onChange={setMethod} />
      </div>
      <div className="space-y-4">
        <OrderSummary cart={cart} />
        <FormAlert message={error} />
        <button
          type="button"
          onClick={() => void place()}
          disabled={busy || !orderable}
          aria-disabled={busy || !orderable}
          className="w-full rounded-md bg-amber-400 px-4 py-3 text-lg font-semibold text-slate-900 hover:bg-amber-300 disabled:opacity-60"
        >
          {busy ? 'Placing your order…' : `Place order · ${cart.pricing.total.formatted}`}
        </button>
      </div>
    </div>
  );
}

function CheckoutPage() {
  const { cart, ready } = useCart();
  if (!ready) return <PageSkeleton />;
  return (
    <div className="mx-auto max-w-7xl px-4 py-6">
      <title>Checkout · Emporium</title>
      <h1 className="text-2xl font-semibold">Checkout</h1>
      {!cart || cart.lines.length === 0 ? (
        <div className="mt-4 rounded-lg border border-slate-200 bg-white p-6">
          <p>Your cart is empty.</p>
          <Link to="/search" className="mt-2 inline-block font-medium text-sky-800 underline">
            Browse all products
          </Link>
        </div>
      ) : (
        <CheckoutForm cart={cart} />
      )}
    </div>
  );
}

export function Component() {
  return (
    <RequireSession>
      <CheckoutPage />
    </RequireSession>
  );
}
