import { Link } from 'react-router';
import { useCategoryTree } from '../app/categories';
import { Deals } from '../components/Deals';
import { ErrorNotice } from '../components/ErrorNotice';
import { Skeleton } from '../components/Skeleton';

const TILE_TINTS = [
  'bg-amber-100',
  'bg-sky-100',
  'bg-emerald-100',
  'bg-rose-100',
  'bg-violet-100',
  'bg-lime-100',
  'bg-orange-100',
  'bg-teal-100',
];

function CategoryTiles() {
  const { roots, loading, error, refetch } = useCategoryTree();
  if (error && roots.length === 0) {
    return (
      <ErrorNotice
        title="We could not load the categories"
        error={error}
        onRetry={() => void refetch()}
      />
    );
  }
  if (loading && roots.length === 0) {
    return (
      <div className="grid gap-4 sm:grid-cols-2 lg:grid-cols-4" role="status">
        <span className="sr-only">Loading categories…</span>
        {Array.from({ length: 8 }, (_, i) => (
          <Skeleton key={i} className="h-48" />
        ))}
      </div>
    );
  }
  return (
    <ul className="grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
      {roots.map((root, index) => (
        <li
          key={root.id}
          className="flex flex-col rounded-lg border border-slate-200 bg-white p-4 shadow-sm"
        >
          <h3 className="text-lg font-semibold">
            <Link to={`/c/${root.slug}`} className="hover:underline">
              {root.name}
            </Link>
          </h3>
          <ul className="mt-3 grid grid-cols-2 gap-2">
            {(root.children ?? []).slice(0, 4).map((child) => (
              <li key={child.id}>
                <Link
                  to={`/c/${child.slug}`}
                  className={`flex h-20 items-end rounded-md p-2 text-sm font-medium text-slate-900 hover:underline ${
                    TILE_TINTS[(index + child.name.length) % TILE_TINTS.length]
                  }`}
                >
                  {child.name}
                </Link>
              </li>
            ))}
          </ul>
          <Link
            to={`/c/${root.slug}`}
            className="mt-3 text-sm font-medium text-sky-800 hover:underline"
            aria-label={`Shop all ${root.name}`}
          >
            Shop all
          </Link>
        </li>
      ))}
    </ul>
  );
}

export function Component() {
  return (
    <>
      <title>Emporium: shop electronics, home, fashion and more</title>
      <section className="bg-gradient-to-r from-slate-800 to-slate-700 text-white">
        <div className="mx-auto max-w-7xl px-4 py-10 md:py-14">
          <h1 className="max-w-2xl text-3xl font-bold tracking-tight md:text-4xl">
            Everything you need, from sellers you can trust
          </h1>
          <p className="mt-3 max-w-xl text-slate-200">
            Compare offers from many sellers on one page and find the best price.
          </p>
          <Link
            to="/search"
            className="mt-6 inline-block rounded-md bg-amber-400 px-5 py-2.5 font-semibold text-slate-900 hover:bg-amber-300"
          >
            Browse all products
          </Link>
        </div>
      </section>
      <Deals />
      <section className="mx-auto max-w-7xl px-4 py-8" aria-labelledby="categories-heading">
        <h2 id="categories-heading" className="mb-4 text-2xl font-semibold">
          Shop by category
        </h2>
        <CategoryTiles />
      </section>
    </>
  );
}
