// Search results (/search?q=…) and category pages (/c/<slug>) share this page: both are
// served by the search read model, a category page adds its category to the filter.
import { skipToken, useQuery } from '@apollo/client/react';
import { useDeferredValue, useMemo, useRef, useState } from 'react';
import { Link, useParams, useSearchParams } from 'react-router';
import { findCategoryPath, useCategoryTree, type CategoryNode } from '../app/categories';
import { Breadcrumbs, type Crumb } from '../components/Breadcrumbs';
import { ErrorNotice } from '../components/ErrorNotice';
import { ProductCard } from '../components/ProductCard';
import { PageSkeleton, Skeleton } from '../components/Skeleton';
import {
  ShopCategoryDocument,
  ShopSearchDocument,
  ShopSearchMoreDocument,
  type CategoryLinkFragment,
  type ProductCardFragment,
  type SearchSort,
} from '../gql/graphql';
import { ActiveFilters } from '../search/ActiveFilters';
import { Facets } from '../search/Facets';
import {
  activeFilterCount,
  parseSearchParams,
  searchVariables,
  toSearchParams,
  withoutFilters,
  type SearchState,
} from '../search/params';
import { Component as NotFound } from './NotFound';

interface CategoryContext {
  category: CategoryLinkFragment;
  /** root first, ending with the category */
  path: CategoryLinkFragment[];
}

/** The category of a /c/<slug> page: from the cached menu tree, else asked for by slug. */
function useCategory(slug: string | undefined) {
  const tree = useCategoryTree();
  const fromTree = useMemo(
    () => (slug ? findCategoryPath(tree.roots, slug) : null),
    [slug, tree.roots],
  );
  const treeSettled = !tree.loading || tree.roots.length > 0;
  const deeper = useQuery(
    ShopCategoryDocument,
    slug && treeSettled && !fromTree ? { variables: { slug } } : skipToken,
  );
  if (!slug) return { pending: false, context: null, notFound: false, error: null };
  if (fromTree) {
    const category = fromTree[fromTree.length - 1] as CategoryNode;
    return { pending: false, context: { category, path: fromTree }, notFound: false, error: null };
  }
  const found = deeper.data?.category;
  if (found) {
    const context: CategoryContext = { category: found, path: [...found.ancestors, found] };
    return { pending: false, context, notFound: false, error: null };
  }
  const error = deeper.error ?? (tree.roots.length === 0 ? tree.error : undefined) ?? null;
  const pending = !error && (!treeSettled || deeper.loading || !deeper.data);
  return { pending, context: null, notFound: !pending && !error, error };
}

const SORT_OPTIONS: { value: SearchSort; label: string; browseLabel?: string }[] = [
  { value: 'RELEVANCE', label: 'Best match', browseLabel: 'Featured' },
  { value: 'PRICE_ASC', label: 'Price: low to high' },
  { value: 'PRICE_DESC', label: 'Price: high to low' },
  { value: 'NEWEST', label: 'Newest arrivals' },
];

function ResultsSkeleton() {
  return (
    <div className="grid grid-cols-2 gap-4 md:grid-cols-3 xl:grid-cols-4" aria-hidden="true">
      {Array.from({ length: 8 }, (_, i) => (
        <Skeleton key={i} className="aspect-[3/4]" />
      ))}
    </div>
  );
}

// the cards of a first screen (two rows on a phone, one on a wide screen): drawn, with their
// pictures eager, before the rest of the page of results
const FIRST_SCREEN = 4;

function ResultGrid({ products, stale }: { products: ProductCardFragment[]; stale: boolean }) {
  // the rest are drawn in the background, in slices that leave the main thread free
  const drawn = useDeferredValue(products.length, Math.min(products.length, FIRST_SCREEN));
  return (
    <ul
      className={`grid grid-cols-2 gap-4 md:grid-cols-3 xl:grid-cols-4 ${stale ? 'opacity-60' : ''}`}
    >
      {products.map((product, index) =>
        index < drawn ? (
          <li key={product.id}>
            <ProductCard product={product} eager={index < FIRST_SCREEN} />
          </li>
        ) : (
          // a card's box until it is drawn: what follows the grid does not move
          <li key={product.id} aria-hidden="true">
            <div className="rounded-lg border border-slate-200 bg-white">
              <div className="aspect-square w-full bg-slate-100" />
              <div className="h-[144px]" />
            </div>
          </li>
        ),
      )}
    </ul>
  );
}

export function Component() {
  const { slug } = useParams();
  const [params, setParams] = useSearchParams();
  const state = useMemo(() => parseSearchParams(params), [params]);
  const category = useCategory(slug);
  const filtersDialog = useRef<HTMLDialogElement>(null);
  // the dialog's facets are rendered only while it is open (they are a long list)
  const [filtersOpen, setFiltersOpen] = useState(false);
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<unknown>(null);

  const variables = searchVariables(state, category.context?.category.id);
  const ready = !slug || category.context !== null;
  const { data, previousData, loading, error, refetch, fetchMore } = useQuery(
    ShopSearchDocument,
    ready ? { variables } : skipToken,
  );

  if (slug && category.notFound) return <NotFound />;
  if (category.error) {
    return (
      <div className="mx-auto max-w-7xl px-4 py-8">
        <ErrorNotice error={category.error} title="We could not load this category" />
      </div>
    );
  }
  if (!ready) return <PageSkeleton />;

  function change(next: SearchState) {
    setMoreError(null);
    setParams(toSearchParams(next));
  }

  async function showMore(after: string) {
    setLoadingMore(true);
    setMoreError(null);
    try {
      await fetchMore({ query: ShopSearchMoreDocument, variables: { ...variables, after } });
    } catch (problem) {
      setMoreError(problem);
    } finally {
      setLoadingMore(false);
    }
  }

  const shown = data ?? previousData;
  const result = shown?.search;
  const stale = loading && !!previousData && !data;
  const sellerNames = new Map((shown?.sellers ?? []).map((seller) => [seller.id, seller.name]));
  const products = (result?.edges ?? []).flatMap((edge) => (edge.node ? [edge.node] : []));
  const currency = products[0]?.price.currency ?? 'USD';
  const filters = activeFilterCount(state);
  const context = category.context;

  const title = context
    ? context.category.name
    : state.query
      ? `Results for “${state.query}”`
      : 'All products';
  const crumbs: Crumb[] = context
    ? [
        { label: 'Home', to: '/' },
        ...context.path.map((node, index) =>
          index === context.path.length - 1
            ? { label: node.name }
            : { label: node.name, to: `/c/${node.slug}` },
        ),
      ]
    : [{ label: 'Home', to: '/' }, { label: state.query ? 'Search' : 'All products' }];

  const facets = result && (
    <Facets
      facets={result.facets}
      state={state}
      onChange={change}
      sellerNames={sellerNames}
      currency={currency}
    />
  );

  return (
    <div className="mx-auto max-w-7xl px-4 py-6">
      <title>{`${title} · Emporium`}</title>
      <Breadcrumbs items={crumbs} />
      <div className="flex flex-wrap items-end justify-between gap-3">
        <div>
          <h1 className="text-2xl font-semibold">{title}</h1>
          {context && state.query && (
            <p className="text-sm text-slate-700">Matching “{state.query}”</p>
          )}
          <p className="min-h-5 text-sm text-slate-700" aria-live="polite">
            {result
              ? `${result.totalCount.toLocaleString('en-US')} ${result.totalCount === 1 ? 'result' : 'results'}`
              : ''}
          </p>
        </div>
        <div className="flex items-center gap-2">
          <button
            type="button"
            onClick={() => {
              setFiltersOpen(true);
              filtersDialog.current?.showModal();
            }}
            className="rounded-md border border-slate-300 bg-white px-3 py-2 text-sm font-medium lg:hidden"
          >
            Filters{filters > 0 ? ` (${filters})` : ''}
          </button>
          <label className="flex items-center gap-2 text-sm">
            <span className="text-slate-700">Sort by</span>
            <select
              value={state.sort}
              onChange={(event) => change({ ...state, sort: event.target.value as SearchSort })}
              className="rounded-md border border-slate-300 bg-white px-2 py-2"
            >
              {SORT_OPTIONS.map((option) => (
                <option key={option.value} value={option.value}>
                  {!state.query && option.browseLabel ? option.browseLabel : option.label}
                </option>
              ))}
            </select>
          </label>
        </div>
      </div>

      <div className="mt-3">
        <ActiveFilters
          state={state}
          onChange={change}
          sellerNames={sellerNames}
          currency={currency}
        />
      </div>

      <div className="mt-6 flex gap-8">
        <aside aria-label="Filters" className="hidden w-60 shrink-0 lg:block">
          {facets ?? <Skeleton className="h-96" />}
        </aside>

        <section aria-label="Results" aria-busy={loading} className="min-w-0 flex-1">
          {error && !result && (
            <ErrorNotice
              error={error}
              title="We could not load these results"
              onRetry={() => void refetch()}
            />
          )}
          {!result && !error && <ResultsSkeleton />}
          {result && result.totalCount === 0 && (
            <div className="rounded-lg border border-slate-200 bg-white p-8 text-center">
              {result.didYouMean && filters === 0 ? (
                <p className="text-lg">
                  No results for “{state.query}”. Did you mean{' '}
                  <Link
                    to={`/search?${toSearchParams({ ...withoutFilters(state), query: result.didYouMean })}`}
                    className="font-semibold text-sky-800 underline"
                  >
                    {result.didYouMean}
                  </Link>
                  ?
                </p>
              ) : (
                <p className="text-lg font-medium">
                  {filters > 0
                    ? 'No products match these filters.'
                    : state.query
                      ? `No results for “${state.query}”.`
                      : 'There are no products here yet.'}
                </p>
              )}
              <p className="mt-2 text-sm text-slate-700">
                {filters > 0
                  ? 'Try removing a filter.'
                  : 'Check the spelling, use fewer words, or browse the categories.'}
              </p>
              {filters > 0 && (
                <button
                  type="button"
                  onClick={() => change(withoutFilters(state))}
                  className="mt-4 rounded-md bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700"
                >
                  Clear filters
                </button>
              )}
            </div>
          )}
          {result && products.length > 0 && (
            <>
              <ResultGrid products={products} stale={stale} />
              <div className="mt-8 flex flex-col items-center gap-2">
                <p className="text-sm text-slate-700">
                  Showing {products.length.toLocaleString('en-US')} of{' '}
                  {result.totalCount.toLocaleString('en-US')}
                </p>
                {moreError !== null && (
                  <ErrorNotice error={moreError} title="We could not load more results" />
                )}
                {result.pageInfo.hasNextPage && result.pageInfo.endCursor && (
                  <button
                    type="button"
                    disabled={loadingMore}
                    onClick={() => void showMore(result.pageInfo.endCursor!)}
                    className="rounded-md border border-slate-300 bg-white px-6 py-2 font-medium hover:bg-slate-100 disabled:opacity-60"
                  >
                    {loadingMore ? 'Loading…' : 'Show more results'}
                  </button>
                )}
              </div>
            </>
          )}
        </section>
      </div>

      <dialog
        ref={filtersDialog}
        onClose={() => setFiltersOpen(false)}
        aria-label="Filters"
        className="m-0 h-full max-h-none w-full max-w-sm bg-white p-0 backdrop:bg-slate-900/50"
      >
        <div className="flex h-full flex-col">
          <div className="flex items-center justify-between border-b border-slate-200 p-4">
            <h2 className="text-lg font-semibold">Filters</h2>
            <button
              type="button"
              onClick={() => filtersDialog.current?.close()}
              className="rounded px-2 py-1 text-sm font-medium hover:bg-slate-100"
            >
              Close
            </button>
          </div>
          <div className="flex-1 overflow-y-auto p-4">{filtersOpen && facets}</div>
          <div className="border-t border-slate-200 p-4">
            <button
              type="button"
              onClick={() => filtersDialog.current?.close()}
              className="w-full rounded-md bg-amber-400 px-4 py-2 font-semibold text-slate-900 hover:bg-amber-300"
            >
              {result
                ? `Show ${result.totalCount.toLocaleString('en-US')} results`
                : 'Show results'}
            </button>
          </div>
        </div>
      </dialog>
    </div>
  );
}
