import { useQuery } from '@apollo/client/react';
import { Link } from 'react-router';
import { useCategoryTree, type CategoryNode } from '../app/categories';
import { ShopDealsDocument, type ShopDealsQuery } from '../gql/graphql';
import { formatMinor, SHOP_CURRENCY } from '../lib/money';

type Deal = ShopDealsQuery['deals'][number];

function findCategory(nodes: CategoryNode[], id: string): CategoryNode | null {
  for (const node of nodes) {
    if (node.id === id) return node;
    const below = findCategory(node.children ?? [], id);
    if (below) return below;
  }
  return null;
}

// in UTC, so the server's render and the browser's read the same
const endDate = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeZone: 'UTC' });

/** What a deal applies to, in words, and where to shop it when the shop can say. */
export function dealScope(deal: Deal, roots: CategoryNode[]): { text: string; to?: string } {
  const { kind, values } = deal.target;
  switch (kind) {
    case 'CART':
      return {
        text: deal.minSubtotal
          ? `On orders over ${formatMinor(deal.minSubtotal, SHOP_CURRENCY)}`
          : 'On your whole order',
        to: '/search',
      };
    case 'CATEGORY': {
      const category = values.map((id) => findCategory(roots, id)).find(Boolean);
      return category
        ? { text: `In ${category.name}`, to: `/c/${category.slug}` }
        : { text: 'In selected categories' };
    }
    case 'BRAND':
      return {
        text: `From ${values.join(', ')}`,
        to: `/search?${new URLSearchParams(values.map((brand) => ['brand', brand]))}`,
      };
    case 'SELLER':
      return {
        text: 'From selected sellers',
        to: `/search?${new URLSearchParams(values.map((seller) => ['seller', seller]))}`,
      };
    default:
      return { text: 'On selected products' };
  }
}

/** The offers running now that need no code; nothing at all while there are none. */
export function Deals() {
  const { data } = useQuery(ShopDealsDocument);
  const { roots } = useCategoryTree();
  const deals = data?.deals ?? [];
  if (deals.length === 0) return null;
  return (
    <section className="mx-auto max-w-7xl px-4 pt-8" aria-labelledby="deals-heading">
      <h2 id="deals-heading" className="mb-4 text-2xl font-semibold">
        Today’s deals
      </h2>
      <ul className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
        {deals.map((deal) => {
          const scope = dealScope(deal, roots);
          return (
            <li
              key={deal.id}
              className="flex flex-col rounded-lg border border-amber-200 bg-amber-50 p-4"
            >
              <p className="text-lg font-semibold text-slate-900">{deal.label}</p>
              <p className="mt-1 text-sm text-slate-700">
                {scope.to ? (
                  <Link to={scope.to} className="font-medium text-sky-800 hover:underline">
                    {scope.text}
                  </Link>
                ) : (
                  scope.text
                )}
              </p>
              {deal.endsAt ? (
                <p className="mt-1 text-sm text-slate-600">
                  Ends {endDate.format(new Date(deal.endsAt))}
                </p>
              ) : null}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
