import type { Availability } from '../gql/graphql';

const LABELS: Record<Availability, string> = {
  IN_STOCK: 'In stock',
  OUT_OF_STOCK: 'Out of stock',
  PREORDER: 'Pre-order',
  BACKORDER: 'Backorder',
  DISCONTINUED: 'No longer available',
};

const STYLES: Record<Availability, string> = {
  IN_STOCK: 'text-emerald-700',
  OUT_OF_STOCK: 'text-red-700',
  PREORDER: 'text-sky-700',
  BACKORDER: 'text-amber-800',
  DISCONTINUED: 'text-slate-600',
};

/** Every availability a seller may set, for a select. */
export const AVAILABILITY_OPTIONS = Object.entries(LABELS).map(([value, label]) => ({
  value,
  label,
}));

export function availabilityLabel(value: string): string {
  return LABELS[value as Availability] ?? value;
}

export function AvailabilityText({ value }: { value: Availability }) {
  return <span className={`text-sm font-medium ${STYLES[value]}`}>{LABELS[value]}</span>;
}
