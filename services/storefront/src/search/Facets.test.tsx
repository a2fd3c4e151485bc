import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';
import { describe, expect, it, vi } from 'vitest';
import { facets } from '../test/fixtures';
import { Facets } from './Facets';
import { parseSearchParams, type SearchState } from './params';

function renderFacets(url = '', overrides = {}) {
  const onChange = vi.fn<(next: SearchState) => void>();
  const state = parseSearchParams(new URLSearchParams(url));
  render(
    <MemoryRouter>
      <Facets
        facets={facets(overrides)}
        state={state}
        onChange={onChange}
        sellerNames={new Map([['s-1', 'Northwind Traders']])}
        currency="USD"
      />
    </MemoryRouter>,
  );
  return { onChange, state };
}

describe('Facets', () => {
  it('shows every facet value with its count', () => {
    renderFacets();
    const brands = screen.getByRole('group', { name: 'Brand' });
    expect(within(brands).getByRole('checkbox', { name: /Nordlys/ })).not.toBeChecked();
    expect(within(brands).getByText('2')).toBeInTheDocument();
    expect(screen.getByRole('checkbox', { name: /Northwind Traders/ })).toBeInTheDocument();
    expect(screen.getByRole('checkbox', { name: /In stock/ })).toBeInTheDocument();
    expect(screen.getByRole('group', { name: 'Color' })).toBeInTheDocument();
    // category drill-down keeps the current search
    expect(screen.getByRole('link', { name: /Phones/ })).toHaveAttribute('href', '/c/phones');
  });

  it('adds a brand to the filter, keeping the others (values of a facet are alternatives)', async () => {
    const { onChange } = renderFacets('brand=Nordlys');
    expect(screen.getByRole('checkbox', { name: /Nordlys/ })).toBeChecked();
    await userEvent.click(screen.getByRole('checkbox', { name: /Veyra/ }));
    expect(onChange).toHaveBeenCalledWith(
      expect.objectContaining({ brands: ['Nordlys', 'Veyra'] }),
    );
  });

  it('removes a selected value', async () => {
    const { onChange } = renderFacets('attr=Color:Midnight');
    await userEvent.click(screen.getByRole('checkbox', { name: /Midnight/ }));
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ attributes: {} }));
  });

  it('selects a price bucket and hides empty ones', async () => {
    const { onChange } = renderFacets();
    const price = screen.getByRole('group', { name: 'Price' });
    expect(within(price).getByRole('radio', { name: 'Any price' })).toBeChecked();
    expect(within(price).queryByRole('radio', { name: /\$50 & above/ })).not.toBeInTheDocument();
    await userEvent.click(within(price).getByRole('radio', { name: /\$25 to \$50/ }));
    expect(onChange).toHaveBeenCalledWith(
      expect.objectContaining({ price: { min: 2500, max: 4999 } }),
    );
  });

  it('folds long lists but keeps selected values visible', async () => {
    const many = Array.from({ length: 12 }, (_, i) => ({
      __typename: 'FacetValue' as const,
      value: `Brand ${String(i).padStart(2, '0')}`,
      count: 12 - i,
      selected: false,
    }));
    renderFacets('brand=Brand 11', { brands: many });
    const brands = screen.getByRole('group', { name: 'Brand' });
    expect(within(brands).getAllByRole('checkbox')).toHaveLength(9);
    expect(within(brands).getByRole('checkbox', { name: /Brand 11/ })).toBeChecked();
    await userEvent.click(within(brands).getByRole('button', { name: 'Show 3 more' }));
    expect(within(brands).getAllByRole('checkbox')).toHaveLength(12);
  });
});
