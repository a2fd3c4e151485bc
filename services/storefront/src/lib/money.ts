// Prices are integer minor units plus an ISO 4217 code (docs/catalog.md); the API formats
// product prices itself, the shop formats facet bounds.

const formats = new Map<string, Intl.NumberFormat>();

function format(currency: string): Intl.NumberFormat {
  let found = formats.get(currency);
  if (!found) {
    found = new Intl.NumberFormat('en-US', {
      style: 'currency',
      currency,
      minimumFractionDigits: 0,
    });
    formats.set(currency, found);
  }
  return found;
}

/** Minor units per major unit (100 for USD, 1 for JPY). */
export function minorUnits(currency: string): number {
  const digits = new Intl.NumberFormat('en-US', { style: 'currency', currency }).resolvedOptions()
    .maximumFractionDigits;
  return 10 ** (digits ?? 2);
}

export function formatMinor(amount: number, currency: string): string {
  return format(currency).format(amount / minorUnits(currency));
}

/** A price bucket [from, to) as a shopper reads it: "Under $25", "$25 to $50", "$1,000 & above". */
export function priceRangeLabel(from: number | null, to: number | null, currency: string): string {
  if (from === null && to !== null) return `Under ${formatMinor(to, currency)}`;
  if (from !== null && to === null) return `${formatMinor(from, currency)} & above`;
  if (from !== null && to !== null) {
    return `${formatMinor(from, currency)} to ${formatMinor(to, currency)}`;
  }
  return 'Any price';
}

/** Minor units as an editable amount: 129900 USD -> "1299.00". */
export function amountText(amount: number, currency: string): string {
  const units = minorUnits(currency);
  return (amount / units).toFixed(Math.round(Math.log10(units)));
}

/** "12.5" or "1,299.00" in `currency` as minor units; null when it is no amount. */
export function parseAmount(text: string, currency: string): number | null {
  const cleaned = text.trim().replace(/,/g, '');
  const match = /^(\d{1,10})(?:\.(\d*))?$/.exec(cleaned);
  if (!match) return null;
  const units = minorUnits(currency);
  const digits = Math.round(Math.log10(units));
  const fraction = match[2] ?? '';
  if (fraction.length > digits) return null;
  return Number(match[1]) * units + Number(fraction.padEnd(digits, '0') || 0);
}

/** The currency new products are priced in (the shop sells in US dollars). */
export const SHOP_CURRENCY = 'USD';
