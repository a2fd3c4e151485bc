// Search and category pages keep their whole state in the URL, so a link shares exactly what
// the shopper sees and the back button undoes a filter:
//
//   /search?q=phone&brand=Nordlys&brand=Veyra&price=2500-4999&availability=in-stock
//          &seller=<id>&attr=Color:Midnight&sort=price-asc
//
// Parsing clamps to the search API's input bounds (docs/search.md, "Input bounds"), so an
// edited URL narrows the results instead of failing the request.
import type { Availability, SearchFilter, SearchSort } from '../gql/graphql';

export const MAX_VALUES = 20;
export const MAX_ATTRIBUTES = 10;
export const MAX_QUERY_LENGTH = 200;
export const PAGE_SIZE = 24;

export interface PriceRange {
  /** inclusive, minor units */
  min: number | null;
  /** inclusive, minor units */
  max: number | null;
}

export interface SearchState {
  query: string;
  sort: SearchSort;
  brands: string[];
  sellers: string[];
  availability: Availability[];
  price: PriceRange | null;
  /** attribute name → accepted values */
  attributes: Record<string, string[]>;
}

const SORTS: Record<string, SearchSort> = {
  relevance: 'RELEVANCE',
  'price-asc': 'PRICE_ASC',
  'price-desc': 'PRICE_DESC',
  newest: 'NEWEST',
};

const AVAILABILITY: Record<string, Availability> = {
  'in-stock': 'IN_STOCK',
  preorder: 'PREORDER',
  backorder: 'BACKORDER',
  'out-of-stock': 'OUT_OF_STOCK',
};

const PRICE_MAX = 10_000_000_000;

function slugOf<T extends string>(table: Record<string, T>, value: T): string {
  return Object.keys(table).find((key) => table[key] === value) ?? '';
}

export function sortSlug(sort: SearchSort): string {
  return slugOf(SORTS, sort);
}

export function availabilitySlug(value: Availability): string {
  return slugOf(AVAILABILITY, value);
}

function unique(values: string[]): string[] {
  return [...new Set(values.map((value) => value.trim()).filter(Boolean))].slice(0, MAX_VALUES);
}

function bound(text: string): number | null {
  if (!/^\d{1,11}$/.test(text)) return null;
  const value = Number(text);
  return value <= PRICE_MAX ? value : null;
}

function parsePrice(text: string | null): PriceRange | null {
  const match = text?.match(/^(\d*)-(\d*)$/);
  if (!match) return null;
  const min = match[1] ? bound(match[1]) : null;
  const max = match[2] ? bound(match[2]) : null;
  if (min === null && max === null) return null;
  if (min !== null && max !== null && min > max) return null;
  return { min, max };
}

export function parseSearchParams(params: URLSearchParams): SearchState {
  const attributes: Record<string, string[]> = {};
  for (const entry of params.getAll('attr')) {
    const at = entry.indexOf(':');
    const name = entry.slice(0, at).trim();
    const value = entry.slice(at + 1).trim();
    if (at < 1 || !value || name.length > 60) continue;
    if (!(name in attributes) && Object.keys(attributes).length >= MAX_ATTRIBUTES) continue;
    attributes[name] = unique([...(attributes[name] ?? []), value]);
  }
  return {
    query: (params.get('q') ?? '').trim().slice(0, MAX_QUERY_LENGTH),
    sort: SORTS[params.get('sort') ?? ''] ?? 'RELEVANCE',
    brands: unique(params.getAll('brand')),
    sellers: unique(params.getAll('seller')).filter((id) => /^[A-Za-z0-9_-]{1,64}$/.test(id)),
    availability: [
      ...new Set(
        params
          .getAll('availability')
          .map((slug) => AVAILABILITY[slug])
          .filter(Boolean),
      ),
    ],
    price: parsePrice(params.get('price')),
    attributes,
  };
}

export function toSearchParams(state: SearchState): URLSearchParams {
  const params = new URLSearchParams();
  if (state.query) params.set('q', state.query);
  for (const brand of state.brands) params.append('brand', brand);
  for (const seller of state.sellers) params.append('seller', seller);
  for (const value of state.availability) params.append('availability', availabilitySlug(value));
  if (state.price) params.set('price', `${state.price.min ?? ''}-${state.price.max ?? ''}`);
  for (const [name, values] of Object.entries(state.attributes)) {
    for (const value of values) params.append('attr', `${name}:${value}`);
  }
  if (state.sort !== 'RELEVANCE') params.set('sort', sortSlug(state.sort));
  return params;
}

/** The API filter for this state (and the category of a category page). */
export function toFilter(state: SearchState, categoryId?: string): SearchFilter {
  const filter: SearchFilter = {};
  if (categoryId) filter.categoryId = categoryId;
  if (state.brands.length) filter.brands = state.brands;
  if (state.sellers.length) filter.sellerIds = state.sellers;
  if (state.availability.length) filter.availability = state.availability;
  if (state.price?.min != null) filter.minPrice = state.price.min;
  if (state.price?.max != null) filter.maxPrice = state.price.max;
  const attributes = Object.entries(state.attributes).filter(([, values]) => values.length > 0);
  if (attributes.length) filter.attributes = attributes.map(([name, values]) => ({ name, values }));
  return filter;
}

/** The variables of the first page of results (`categoryId` on a category page). */
export function searchVariables(state: SearchState, categoryId?: string) {
  return {
    query: state.query || null,
    filter: toFilter(state, categoryId),
    sort: state.sort,
    first: PAGE_SIZE,
  };
}

/** How many filters narrow the results (the query and sort not counted). */
export function activeFilterCount(state: SearchState): number {
  return (
    state.brands.length +
    state.sellers.length +
    state.availability.length +
    (state.price ? 1 : 0) +
    Object.values(state.attributes).reduce((sum, values) => sum + values.length, 0)
  );
}

/** The same state without any filter (the query and sort kept). */
export function withoutFilters(state: SearchState): SearchState {
  return {
    ...state,
    brands: [],
    sellers: [],
    availability: [],
    price: null,
    attributes: {},
  };
}

export function toggle(values: string[], value: string): string[] {
  return values.includes(value) ? values.filter((v) => v !== value) : [...values, value];
}

/** A price bucket [from, to) selected as the inclusive range the API filters on. */
export function bucketRange(from: number | null, to: number | null): PriceRange {
  return { min: from, max: to === null ? null : to - 1 };
}
