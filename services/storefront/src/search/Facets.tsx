import { useId, useState, type ReactNode } from 'react';
import { Link } from 'react-router';
import { availabilityLabel } from '../components/Availability';
import type { Availability, ShopSearchQuery } from '../gql/graphql';
import { priceRangeLabel } from '../lib/money';
import { bucketRange, toggle, toSearchParams, type SearchState } from './params';

export type SearchFacets = ShopSearchQuery['search']['facets'];

interface FacetsProps {
  facets: SearchFacets;
  state: SearchState;
  onChange: (next: SearchState) => void;
  /** seller id → name */
  sellerNames: Map<string, string>;
  currency: string;
}

const VISIBLE_VALUES = 8;

function FacetGroup({ title, children }: { title: string; children: ReactNode }) {
  return (
    <fieldset className="border-b border-slate-200 py-4 first:pt-0">
      <legend className="mb-2 text-sm font-semibold text-slate-900">{title}</legend>
      {children}
    </fieldset>
  );
}

interface CheckOption {
  value: string;
  label: string;
  count: number;
  checked: boolean;
}

/** A disjunctive facet: any number of values, each with the count it would have. */
function CheckList({
  options,
  onToggle,
}: {
  options: CheckOption[];
  onToggle: (value: string) => void;
}) {
  const [expanded, setExpanded] = useState(false);
  const id = useId();
  // selected values always stay visible
  const shown = expanded
    ? options
    : options.filter((option, index) => index < VISIBLE_VALUES || option.checked);
  const hidden = options.length - shown.length;
  return (
    <>
      <ul className="space-y-1">
        {shown.map((option, index) => (
          <li key={option.value}>
            <label
              htmlFor={`${id}-${index}`}
              className="flex cursor-pointer items-center gap-2 rounded px-1 py-0.5 text-sm hover:bg-slate-100"
            >
              <input
                id={`${id}-${index}`}
                type="checkbox"
                checked={option.checked}
                onChange={() => onToggle(option.value)}
                className="h-4 w-4 rounded border-slate-400 accent-amber-600"
              />
              <span className="flex-1">{option.label}</span>
              <span className="text-xs text-slate-600">{option.count}</span>
            </label>
          </li>
        ))}
      </ul>
      {(hidden > 0 || expanded) && (
        <button
          type="button"
          onClick={() => setExpanded(!expanded)}
          className="mt-1 text-sm font-medium text-sky-800 hover:underline"
        >
          {expanded ? 'Show fewer' : `Show ${hidden} more`}
        </button>
      )}
    </>
  );
}

/** The search facets: categories (drill-down), brand, price, seller, availability, attributes. */
export function Facets({ facets, state, onChange, sellerNames, currency }: FacetsProps) {
  const priceName = useId();
  const linkParams = toSearchParams(state).toString();
  return (
    <div>
      {facets.categories.length > 0 && (
        <nav aria-label="Narrow by category" className="border-b border-slate-200 pb-4">
          <p className="mb-2 text-sm font-semibold text-slate-900">Category</p>
          <ul className="space-y-1 text-sm">
            {facets.categories.map(({ category, count }) => (
              <li key={category.id}>
                <Link
                  to={`/c/${category.slug}${linkParams ? `?${linkParams}` : ''}`}
                  className="flex justify-between rounded px-1 py-0.5 hover:bg-slate-100 hover:underline"
                >
                  <span>{category.name}</span>
                  <span className="text-xs text-slate-600">{count}</span>
                </Link>
              </li>
            ))}
          </ul>
        </nav>
      )}

      {facets.brands.length > 0 && (
        <FacetGroup title="Brand">
          <CheckList
            options={facets.brands.map((brand) => ({
              value: brand.value,
              label: brand.value,
              count: brand.count,
              checked: state.brands.includes(brand.value),
            }))}
            onToggle={(value) => onChange({ ...state, brands: toggle(state.brands, value) })}
          />
        </FacetGroup>
      )}

      {facets.priceRanges.some((range) => range.count > 0 || range.selected) && (
        <FacetGroup title="Price">
          <ul className="space-y-1">
            <li>
              <label className="flex cursor-pointer items-center gap-2 rounded px-1 py-0.5 text-sm hover:bg-slate-100">
                <input
                  type="radio"
                  name={priceName}
                  checked={state.price === null}
                  onChange={() => onChange({ ...state, price: null })}
                  className="h-4 w-4 accent-amber-600"
                />
                <span className="flex-1">Any price</span>
              </label>
            </li>
            {facets.priceRanges
              .filter((range) => range.count > 0 || range.selected)
              .map((range) => (
                <li key={`${range.from}-${range.to}`}>
                  <label className="flex cursor-pointer items-center gap-2 rounded px-1 py-0.5 text-sm hover:bg-slate-100">
                    <input
                      type="radio"
                      name={priceName}
                      checked={range.selected}
                      onChange={() =>
                        onChange({ ...state, price: bucketRange(range.from, range.to) })
                      }
                      className="h-4 w-4 accent-amber-600"
                    />
                    <span className="flex-1">
                      {priceRangeLabel(range.from, range.to, currency)}
                    </span>
                    <span className="text-xs text-slate-600">{range.count}</span>
                  </label>
                </li>
              ))}
          </ul>
        </FacetGroup>
      )}

      {facets.availability.length > 0 && (
        <FacetGroup title="Availability">
          <CheckList
            options={facets.availability.map((value) => ({
              value: value.value,
              label: availabilityLabel(value.value),
              count: value.count,
              checked: state.availability.includes(value.value as Availability),
            }))}
            onToggle={(value) =>
              onChange({
                ...state,
                availability: toggle(state.availability, value) as Availability[],
              })
            }
          />
        </FacetGroup>
      )}

      {facets.sellers.length > 0 && (
        <FacetGroup title="Seller">
          <CheckList
            options={facets.sellers.map((seller) => ({
              value: seller.value,
              label: sellerNames.get(seller.value) ?? 'Marketplace seller',
              count: seller.count,
              checked: state.sellers.includes(seller.value),
            }))}
            onToggle={(value) => onChange({ ...state, sellers: toggle(state.sellers, value) })}
          />
        </FacetGroup>
      )}

      {facets.attributes.map((attribute) => (
        <FacetGroup key={attribute.name} title={attribute.name}>
          <CheckList
            options={attribute.values.map((value) => ({
              value: value.value,
              label: value.value,
              count: value.count,
              checked: (state.attributes[attribute.name] ?? []).includes(value.value),
            }))}
            onToggle={(value) => {
              const values = toggle(state.attributes[attribute.name] ?? [], value);
              const attributes = { ...state.attributes, [attribute.name]: values };
              if (values.length === 0) delete attributes[attribute.name];
              onChange({ ...state, attributes });
            }}
          />
        </FacetGroup>
      ))}
    </div>
  );
}
