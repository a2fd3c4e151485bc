import { Link } from 'react-router';
import { dismissMerge, useCart, type MergeReport } from '../cart/store';

const OUTCOMES: Record<string, (line: MergeReport['lines'][number]) => string> = {
  MERGED: (line) => `${line.added} added, ${line.quantity} in your cart now`,
  CAPPED: (line) =>
    `${line.added} of ${line.requested} added: ${line.quantity} is the most one order can hold`,
  DROPPED: () => 'not added: your cart is full',
};

/** After sign-in: what came over from the cart this browser filled while signed out. */
export function MergeNotice() {
  const merge = useCart((state) => state.merge);
  if (!merge) return null;
  return (
    <section
      aria-labelledby="merge-heading"
      aria-live="polite"
      className="mx-auto mt-4 w-full max-w-7xl px-4"
    >
      <div className="rounded-lg border border-emerald-200 bg-emerald-50 p-4 text-sm text-emerald-950">
        <h2 id="merge-heading" className="font-semibold">
          We added what you picked before signing in to your cart
        </h2>
        <ul className="mt-2 list-disc space-y-1 pl-5">
          {merge.lines.map((line) => (
            <li key={line.productId}>
              <span className="font-medium">{merge.names[line.productId] ?? 'An item'}</span>:{' '}
              {(OUTCOMES[line.outcome] ?? (() => line.reason ?? line.outcome))(line)}
            </li>
          ))}
          {merge.coupons.map((code) => (
            <li key={code}>
              Coupon <span className="font-medium">{code}</span> carried over
            </li>
          ))}
        </ul>
        <div className="mt-3 flex gap-4">
          <Link to="/cart" className="font-semibold text-sky-800 underline">
            Review your cart
          </Link>
          <button type="button" onClick={dismissMerge} className="font-medium underline">
            Dismiss
          </button>
        </div>
      </div>
    </section>
  );
}
