import { useId, useState } from 'react';
import { Link } from 'react-router';
import { addToCart } from '../cart/store';
import { describeError } from '../lib/errors';
import { FormAlert } from './FormField';

/** Quantity and "Add to cart" for a product the catalog sells now. */
export function AddToCart({ productId, name }: { productId: string; name: string }) {
  const [quantity, setQuantity] = useState(1);
  const [busy, setBusy] = useState(false);
  const [added, setAdded] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const id = useId();

  async function add() {
    if (busy) return;
    setBusy(true);
    setError(null);
    setAdded(null);
    try {
      const cart = await addToCart(productId, quantity);
      setAdded(cart.lines.find((line) => line.id === productId)?.quantity ?? quantity);
    } catch (problem) {
      const report = describeError(problem);
      setError(Object.values(report.fields)[0] ?? report.message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="mt-6 space-y-3">
      <div className="flex flex-wrap items-end gap-3">
        <div>
          <label htmlFor={id} className="block text-sm font-medium text-slate-800">
            Quantity
          </label>
          <select
            id={id}
            value={quantity}
            onChange={(event) => setQuantity(Number(event.target.value))}
            className="mt-1 rounded-md border border-slate-300 bg-white px-3 py-2"
          >
            {Array.from({ length: 10 }, (_, index) => index + 1).map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </div>
        <button
          type="button"
          onClick={() => void add()}
          disabled={busy}
          className="rounded-md bg-amber-400 px-6 py-2 font-semibold text-slate-900 hover:bg-amber-300 disabled:opacity-60"
        >
          {busy ? 'Adding…' : 'Add to cart'}
        </button>
      </div>
      <div role="status" aria-live="polite">
        {added !== null && (
          <p className="text-sm font-medium text-emerald-800">
            Added to your cart ({added} of {name} in it now).{' '}
            <Link to="/cart" className="text-sky-800 underline">
              View cart
            </Link>
          </p>
        )}
      </div>
      <FormAlert message={error} />
    </div>
  );
}
