import { Link } from 'react-router';
import { useCart } from '../cart/store';

/** The header's link to the cart with the number of items in it (live). */
export function CartBadge() {
  const count = useCart((state) => state.cart?.itemCount ?? 0);
  const label = `Cart, ${count} ${count === 1 ? 'item' : 'items'}`;
  return (
    <Link
      to="/cart"
      aria-label={label}
      className="relative flex items-center gap-1 rounded px-2 py-2 text-sm font-semibold whitespace-nowrap hover:bg-slate-700"
    >
      <svg aria-hidden="true" viewBox="0 0 24 24" className="h-6 w-6" fill="none">
        <path
          d="M3 4h2l2.4 10.2a1 1 0 0 0 1 .8h8.9a1 1 0 0 0 1-.8L20 8H6.2"
          stroke="currentColor"
          strokeWidth="1.8"
          strokeLinecap="round"
          strokeLinejoin="round"
        />
        <circle cx="9" cy="19" r="1.5" fill="currentColor" />
        <circle cx="17" cy="19" r="1.5" fill="currentColor" />
      </svg>
      <span
        aria-hidden="true"
        data-testid="cart-count"
        className="min-w-5 rounded-full bg-amber-400 px-1.5 text-center text-xs leading-5 text-slate-900"
      >
        {count}
      </span>
      <span aria-hidden="true" className="hidden sm:inline">
        Cart
      </span>
    </Link>
  );
}
