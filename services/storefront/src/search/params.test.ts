import { describe, expect, it } from 'vitest';
import {
  bucketRange,
  MAX_ATTRIBUTES,
  MAX_VALUES,
  parseSearchParams,
  toFilter,
  toSearchParams,
} from './params';

describe('search state in the URL', () => {
  it('round-trips every filter', () => {
    const url =
      'q=phone&brand=Nordlys&brand=Veyra&seller=s-1&availability=in-stock&price=2500-4999' +
      '&attr=Color%3AMidnight&attr=Storage%3A128+GB&sort=price-asc';
    const state = parseSearchParams(new URLSearchParams(url));
    expect(state).toEqual({
      query: 'phone',
      sort: 'PRICE_ASC',
      brands: ['Nordlys', 'Veyra'],
      sellers: ['s-1'],
      availability: ['IN_STOCK'],
      price: { min: 2500, max: 4999 },
      attributes: { Color: ['Midnight'], Storage: ['128 GB'] },
    });
    expect(parseSearchParams(toSearchParams(state))).toEqual(state);
  });

  it('turns the state into the API filter', () => {
    const state = parseSearchParams(
      new URLSearchParams('brand=Nordlys&price=-2499&attr=Color:Rose'),
    );
    expect(toFilter(state, 'c-1')).toEqual({
      categoryId: 'c-1',
      brands: ['Nordlys'],
      maxPrice: 2499,
      attributes: [{ name: 'Color', values: ['Rose'] }],
    });
    expect(toFilter(parseSearchParams(new URLSearchParams()))).toEqual({});
  });

  it('clamps an edited URL to what the API accepts', () => {
    const params = new URLSearchParams();
    for (let i = 0; i < 30; i += 1) params.append('brand', `b${i}`);
    for (let i = 0; i < 15; i += 1) params.append('attr', `A${i}:v`);
    params.append('seller', 'not an id!');
    params.set('price', '5000-10');
    params.set('sort', 'cheapest');
    params.append('availability', 'soon');
    params.set('q', 'x'.repeat(300));
    const state = parseSearchParams(params);
    expect(state.brands).toHaveLength(MAX_VALUES);
    expect(Object.keys(state.attributes)).toHaveLength(MAX_ATTRIBUTES);
    expect(state.sellers).toEqual([]);
    expect(state.price).toBeNull();
    expect(state.sort).toBe('RELEVANCE');
    expect(state.availability).toEqual([]);
    expect(state.query).toHaveLength(200);
  });

  it('selects a price bucket as an inclusive range', () => {
    expect(bucketRange(2500, 5000)).toEqual({ min: 2500, max: 4999 });
    expect(bucketRange(null, 2500)).toEqual({ min: null, max: 2499 });
    expect(bucketRange(100000, null)).toEqual({ min: 100000, max: null });
  });
});
