import { useId, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { useSession } from '../auth/session';
import { CartTotals, ShippingProgress } from '../components/CartTotals';
import { FormAlert } from '../components/FormField';
import { ProductImage } from '../components/ProductImage';
import { PageSkeleton } from '../components/Skeleton';
import { availabilityLabel } from '../components/Availability';
import {
  applyCoupon,
  moveToCart,
  removeCoupon,
  removeLine,
  saveForLater,
  setQuantity,
  useCart,
  type Cart,
} from '../cart/store';
import { describeError } from '../lib/errors';

type Line = Cart['lines'][number];

// the cart service's per-line limit (docs/cart.md)
const MAX_LINE_QUANTITY = 99;

/** Runs a cart change, keeping its error (in plain language) for the line or form. */
function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function run(action: () => Promise<unknown>): Promise<boolean> {
    setBusy(true);
    setError(null);
    try {
      await action();
      return true;
    } catch (problem) {
      const report = describeError(problem);
      setError(Object.values(report.fields)[0] ?? report.message);
      return false;
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, run };
}

function PriceChange({ line }: { line: Line }) {
  if (line.priceChange === 'NONE') return null;
  const up = line.priceChange === 'UP';
  return (
    <p className={`text-sm font-medium ${up ? 'text-red-700' : 'text-emerald-700'}`}>
      {up ? 'Price went up' : 'Price dropped'} from {line.unitPriceAtAdd.formatted} to{' '}
      {line.unitPrice.formatted}
    </p>
  );
}

function QuantitySelect({
  line,
  disabled,
  onChange,
}: {
  line: Line;
  disabled: boolean;
  onChange: (quantity: number) => void;
}) {
  const id = useId();
  const top = Math.max(10, Math.min(line.quantity + 5, MAX_LINE_QUANTITY));
  return (
    <div className="flex items-center gap-2">
      <label htmlFor={id} className="text-sm text-slate-700">
        Quantity<span className="sr-only"> of {line.name}</span>
      </label>
      <select
        id={id}
        value={line.quantity}
        disabled={disabled}
        onChange={(event) => onChange(Number(event.target.value))}
        className="rounded-md border border-slate-300 bg-white px-2 py-1"
      >
        {Array.from({ length: top }, (_, index) => index + 1).map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
    </div>
  );
}

function CartLineItem({ line }: { line: Line }) {
  const { busy, error, run } = useAction();
  return (
    <li className="flex gap-4 py-4" aria-label={line.name}>
      <Link to={`/p/${line.product.slug}`} tabIndex={-1} aria-hidden="true" className="shrink-0">
        <ProductImage
          src={line.product.images[0]?.url}
          alt=""
          label={line.name}
          slot="cartLine"
          className="h-24 w-24 rounded-md border border-slate-200 bg-white"
        />
      </Link>
      <div className="min-w-0 flex-1">
        <div className="flex flex-wrap justify-between gap-2">
          <h3 className="font-medium">
            <Link to={`/p/${line.product.slug}`} className="hover:underline">
              {line.name}
            </Link>
          </h3>
          <p className="font-semibold">{line.available ? line.total.formatted : '—'}</p>
        </div>
        <p className="text-sm text-slate-700">{line.unitPrice.formatted} each</p>
        {line.available ? (
          <p className="text-sm font-medium text-emerald-700">
            {availabilityLabel(line.availability)}
          </p>
        ) : (
          <p className="text-sm font-medium text-red-700">
            {line.availability === 'ARCHIVED'
              ? 'No longer sold: remove it or save it for later'
              : line.availability === 'UNKNOWN'
                ? 'We cannot check this item right now'
                : `${availabilityLabel(line.availability)}: not included in your total`}
          </p>
        )}
        <PriceChange line={line} />
        {line.discounts.length > 0 && (
          <ul className="mt-1 text-sm text-emerald-800" aria-label={`Savings on ${line.name}`}>
            {line.discounts.map((discount) => (
              <li key={discount.offerId}>
                {discount.label}: −{discount.amount.formatted}
              </li>
            ))}
          </ul>
        )}
        <div className="mt-2 flex flex-wrap items-center gap-x-4 gap-y-2">
          <QuantitySelect
            line={line}
            disabled={busy}
            onChange={(quantity) => void run(() => setQuantity(line.id, quantity))}
          />
          <button
            type="button"
            disabled={busy}
            onClick={() => void run(() => saveForLater(line.id))}
            aria-label={`Save for later: ${line.name}`}
            className="text-sm font-medium text-sky-800 hover:underline"
          >
            Save for later
          </button>
          <button
            type="button"
            disabled={busy}
            onClick={() => void run(() => removeLine(line.id))}
            className="text-sm font-medium text-red-700 hover:underline"
          >
            Remove<span className="sr-only"> {line.name}</span>
          </button>
        </div>
        <FormAlert message={error} />
      </div>
    </li>
  );
}

function SavedItem({ line }: { line: Line }) {
  const { busy, error, run } = useAction();
  return (
    <li className="flex flex-wrap items-center justify-between gap-3 py-3" aria-label={line.name}>
      <div>
        <Link to={`/p/${line.product.slug}`} className="font-medium hover:underline">
          {line.name}
        </Link>
        <p className="text-sm text-slate-700">
          {line.unitPrice.formatted}
          {!line.available && ` · ${availabilityLabel(line.availability)}`}
        </p>
      </div>
      <div className="flex gap-4">
        <button
          type="button"
          disabled={busy}
          onClick={() => void run(() => moveToCart(line.id))}
          aria-label={`Move to cart: ${line.name}`}
          className="text-sm font-medium text-sky-800 hover:underline"
        >
          Move to cart
        </button>
        <button
          type="button"
          disabled={busy}
          onClick={() => void run(() => removeLine(line.id))}
          className="text-sm font-medium text-red-700 hover:underline"
        >
          Remove<span className="sr-only"> {line.name}</span>
        </button>
      </div>
      <div className="w-full">
        <FormAlert message={error} />
      </div>
    </li>
  );
}

function Coupons({ cart }: { cart: Cart }) {
  const [code, setCode] = useState('');
  const { busy, error, run } = useAction();
  const removal = useAction();
  const inputId = useId();
  const errorId = `${inputId}-error`;
  // a coupon on the cart that does not apply (any more) says why
  const stale = cart.pricing.notApplied.filter((entry) => entry.code.startsWith('COUPON_'));
  async function submit(event: FormEvent) {
    event.preventDefault();
    const entered = code.trim();
    if (!entered) return;
    if (await run(() => applyCoupon(entered))) setCode('');
  }
  return (
    <div className="border-t border-slate-200 pt-4">
      <form noValidate onSubmit={submit}>
        <label htmlFor={inputId} className="block text-sm font-medium">
          Coupon code
        </label>
        <div className="mt-1 flex gap-2">
          <input
            id={inputId}
            value={code}
            onChange={(event) => setCode(event.target.value)}
            autoComplete="off"
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? errorId : undefined}
            className={`min-w-0 flex-1 rounded-md border px-3 py-2 uppercase ${
              error ? 'border-red-600' : 'border-slate-300'
            }`}
          />
          <button
            type="submit"
            disabled={busy}
            className="rounded-md border border-slate-300 px-3 py-2 font-medium hover:bg-slate-100 disabled:opacity-60"
          >
            Apply
          </button>
        </div>
        {error && (
          <p id={errorId} role="alert" className="mt-1 text-sm text-red-700">
            {error}
          </p>
        )}
      </form>
      {cart.coupons.length > 0 && (
        <ul className="mt-3 space-y-1 text-sm" aria-label="Coupons on your cart">
          {cart.coupons.map((coupon) => (
            <li key={coupon} className="flex items-center justify-between gap-2">
              <span className="font-semibold">{coupon}</span>
              <button
                type="button"
                disabled={removal.busy}
                onClick={() => void removal.run(() => removeCoupon(coupon))}
                className="font-medium text-red-700 hover:underline"
              >
                Remove<span className="sr-only"> coupon {coupon}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {stale.length > 0 && (
        <ul className="mt-2 space-y-1 text-sm text-amber-900">
          {stale.map((entry) => (
            <li key={entry.offerId}>
              {entry.label}: {entry.reason}
            </li>
          ))}
        </ul>
      )}
      <FormAlert message={removal.error} />
    </div>
  );
}

function Hints({ cart }: { cart: Cart }) {
  // offers within reach, in the cart service's words (free shipping has its own line)
  const hints = cart.pricing.notApplied.filter(
    (entry) =>
      ['BELOW_MINIMUM', 'BELOW_TIER', 'BUY_MORE'].includes(entry.code) &&
      !/free shipping/i.test(entry.reason),
  );
  if (hints.length === 0) return null;
  return (
    <ul className="space-y-1 text-sm text-slate-700" aria-label="Offers within reach">
      {hints.map((hint) => (
        <li key={hint.offerId}>
          <span className="font-medium">{hint.label}</span>: {hint.reason}
        </li>
      ))}
    </ul>
  );
}

function Summary({ cart }: { cart: Cart }) {
  const status = useSession((state) => state.status);
  const orderable = cart.lines.some((line) => line.available);
  const checkout =
    status === 'signedIn'
      ? '/checkout'
      : `/account/sign-in?${new URLSearchParams({ next: '/checkout' })}`;
  return (
    <section
      aria-labelledby="summary-heading"
      className="space-y-4 rounded-lg border border-slate-200 bg-white p-4"
    >
      <h2 id="summary-heading" className="text-lg font-semibold">
        Order summary
      </h2>
      <ShippingProgress cart={cart} />
      <CartTotals cart={cart} />
      <Hints cart={cart} />
      {orderable ? (
        <Link
          to={checkout}
          className="block rounded-md bg-amber-400 px-4 py-2 text-center font-semibold text-slate-900 hover:bg-amber-300"
        >
          {status === 'signedIn' ? 'Go to checkout' : 'Sign in to check out'}
        </Link>
      ) : (
        <p className="text-sm text-slate-700">Nothing in your cart can be ordered right now.</p>
      )}
      <Coupons cart={cart} />
    </section>
  );
}

export function Component() {
  const { cart, ready } = useCart();
  if (!ready) {
    return (
      <>
        <title>Your cart · Emporium</title>
        <PageSkeleton />
      </>
    );
  }
  const lines = cart?.lines ?? [];
  const saved = cart?.savedForLater ?? [];
  return (
    <div className="mx-auto max-w-7xl px-4 py-6">
      <title>Your cart · Emporium</title>
      <h1 className="text-2xl font-semibold">Your cart</h1>
      {lines.length === 0 ? (
        <div className="mt-4 rounded-lg border border-slate-200 bg-white p-6">
          <p className="text-slate-800">Your cart is empty.</p>
          <Link to="/search" className="mt-2 inline-block font-medium text-sky-800 underline">
            Browse all products
          </Link>
        </div>
      ) : (
        <div className="mt-4 grid gap-8 lg:grid-cols-[1fr_22rem]">
          <section aria-labelledby="lines-heading">
            <h2 id="lines-heading" className="sr-only">
              Items in your cart
            </h2>
            <ul className="divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white px-4">
              {lines.map((line) => (
                <CartLineItem key={line.id} line={line} />
              ))}
            </ul>
          </section>
          {cart && <Summary cart={cart} />}
        </div>
      )}
      {saved.length > 0 && (
        <section aria-labelledby="saved-heading" className="mt-8">
          <h2 id="saved-heading" className="text-lg font-semibold">
            Saved for later
          </h2>
          <ul className="mt-2 divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white px-4">
            {saved.map((line) => (
              <SavedItem key={line.id} line={line} />
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}
