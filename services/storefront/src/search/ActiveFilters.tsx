import { availabilityLabel } from '../components/Availability';
import { formatMinor } from '../lib/money';
import { activeFilterCount, withoutFilters, type SearchState } from './params';

interface Chip {
  key: string;
  label: string;
  remove: () => SearchState;
}

function priceLabel(state: SearchState, currency: string): string {
  const { min, max } = state.price!;
  if (min !== null && max !== null) {
    return `${formatMinor(min, currency)} to ${formatMinor(max + 1, currency)}`;
  }
  if (min !== null) return `${formatMinor(min, currency)} & above`;
  return `Under ${formatMinor((max ?? 0) + 1, currency)}`;
}

function chipsOf(state: SearchState, sellerNames: Map<string, string>, currency: string): Chip[] {
  const chips: Chip[] = [];
  for (const brand of state.brands) {
    chips.push({
      key: `brand-${brand}`,
      label: `Brand: ${brand}`,
      remove: () => ({ ...state, brands: state.brands.filter((b) => b !== brand) }),
    });
  }
  if (state.price) {
    chips.push({
      key: 'price',
      label: `Price: ${priceLabel(state, currency)}`,
      remove: () => ({ ...state, price: null }),
    });
  }
  for (const value of state.availability) {
    chips.push({
      key: `availability-${value}`,
      label: availabilityLabel(value),
      remove: () => ({ ...state, availability: state.availability.filter((v) => v !== value) }),
    });
  }
  for (const seller of state.sellers) {
    chips.push({
      key: `seller-${seller}`,
      label: `Seller: ${sellerNames.get(seller) ?? 'Marketplace seller'}`,
      remove: () => ({ ...state, sellers: state.sellers.filter((s) => s !== seller) }),
    });
  }
  for (const [name, values] of Object.entries(state.attributes)) {
    for (const value of values) {
      chips.push({
        key: `attr-${name}-${value}`,
        label: `${name}: ${value}`,
        remove: () => {
          const rest = values.filter((v) => v !== value);
          const attributes = { ...state.attributes, [name]: rest };
          if (rest.length === 0) delete attributes[name];
          return { ...state, attributes };
        },
      });
    }
  }
  return chips;
}

interface Props {
  state: SearchState;
  onChange: (next: SearchState) => void;
  sellerNames: Map<string, string>;
  currency: string;
}

/** The filters in force, each removable, and "Clear all". */
export function ActiveFilters({ state, onChange, sellerNames, currency }: Props) {
  if (activeFilterCount(state) === 0) return null;
  return (
    <ul aria-label="Active filters" className="flex flex-wrap items-center gap-2">
      {chipsOf(state, sellerNames, currency).map((chip) => (
        <li key={chip.key}>
          <button
            type="button"
            onClick={() => onChange(chip.remove())}
            aria-label={`Remove filter ${chip.label}`}
            className="flex items-center gap-1 rounded-full border border-slate-300 bg-white px-3 py-1 text-sm hover:border-slate-500"
          >
            {chip.label}
            <span aria-hidden="true">×</span>
          </button>
        </li>
      ))}
      <li>
        <button
          type="button"
          onClick={() => onChange(withoutFilters(state))}
          className="px-2 py-1 text-sm font-medium text-sky-800 hover:underline"
        >
          Clear all
        </button>
      </li>
    </ul>
  );
}
