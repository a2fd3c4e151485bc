import { useQuery } from '@apollo/client/react';
import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { AddToCart } from '../components/AddToCart';
import { AvailabilityText } from '../components/Availability';
import { Breadcrumbs, type Crumb } from '../components/Breadcrumbs';
import { ErrorNotice } from '../components/ErrorNotice';
import { ProductImage } from '../components/ProductImage';
import { RecentlyViewed } from '../components/RecentlyViewed';
import { Skeleton } from '../components/Skeleton';
import { ShopProductDocument, type ShopProductQuery } from '../gql/graphql';
import { rememberViewed } from '../lib/recentlyViewed';
import { Component as NotFound } from './NotFound';

type Product = NonNullable<ShopProductQuery['productBySlug']>;
type Listing = Product['listings'][number];

function ProductSkeleton() {
  return (
    <div className="mx-auto max-w-7xl px-4 py-6" role="status">
      <span className="sr-only">Loading product…</span>
      <Skeleton className="mb-6 h-4 w-72" />
      <div className="grid gap-8 md:grid-cols-2">
        <Skeleton className="aspect-square" />
        <div className="space-y-4">
          <Skeleton className="h-4 w-24" />
          <Skeleton className="h-8 w-3/4" />
          <Skeleton className="h-8 w-32" />
          <Skeleton className="h-24" />
        </div>
      </div>
    </div>
  );
}

function Gallery({ product }: { product: Product }) {
  const [selected, setSelected] = useState(0);
  const images = product.images;
  const current = images[selected];
  return (
    <div>
      <ProductImage
        src={current?.url}
        alt={current?.alt || product.name}
        label={product.name}
        eager
        slot="gallery"
        className="aspect-square w-full rounded-lg border border-slate-200 bg-white"
      />
      {images.length > 1 && (
        <ul className="mt-3 flex gap-2" aria-label="Product images">
          {images.map((image, index) => (
            <li key={image.url}>
              <button
                type="button"
                onClick={() => setSelected(index)}
                aria-label={`Show image ${index + 1} of ${images.length}`}
                aria-pressed={index === selected}
                className={`block overflow-hidden rounded-md border-2 ${
                  index === selected ? 'border-amber-500' : 'border-transparent'
                }`}
              >
                <ProductImage
                  src={image.url}
                  alt=""
                  label={product.name}
                  slot="thumbnail"
                  className="h-16 w-16"
                />
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** Every seller's offer, cheapest first. */
function Offers({ listings }: { listings: Listing[] }) {
  const sorted = [...listings].sort((a, b) => a.price.amount - b.price.amount);
  return (
    <section aria-labelledby="offers-heading" className="mt-8">
      <h2 id="offers-heading" className="text-lg font-semibold">
        Offers from {sorted.length} {sorted.length === 1 ? 'seller' : 'sellers'}
      </h2>
      <ul className="mt-3 divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white">
        {sorted.map((listing, index) => (
          <li key={listing.sellerId} className="flex items-center justify-between gap-4 p-3">
            <div>
              <p className="font-medium">{listing.seller.name}</p>
              <AvailabilityText value={listing.availability} />
            </div>
            <div className="text-right">
              <p className="text-lg font-semibold">{listing.price.formatted}</p>
              {index === 0 && sorted.length > 1 && (
                <p className="text-xs font-medium text-emerald-700">Lowest price</p>
              )}
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Details({ product }: { product: Product }) {
  const archived = product.status === 'ARCHIVED';
  const cheapest = product.listings.reduce<Listing | null>(
    (best, listing) => (best === null || listing.price.amount < best.price.amount ? listing : best),
    null,
  );
  const crumbs: Crumb[] = [
    { label: 'Home', to: '/' },
    ...product.category.ancestors.map((node) => ({ label: node.name, to: `/c/${node.slug}` })),
    { label: product.category.name, to: `/c/${product.category.slug}` },
    { label: product.name },
  ];
  // remembered once shown: the next product page lists this one (this one lists the last)
  const { slug, name } = product;
  const price = product.price.formatted;
  const image = product.images[0]?.url ?? null;
  useEffect(() => rememberViewed({ slug, name, price, image }), [slug, name, price, image]);
  return (
    <div className="mx-auto max-w-7xl px-4 py-6">
      <title>{`${product.name} · Emporium`}</title>
      <Breadcrumbs items={crumbs} />
      {archived && (
        <div role="status" className="mb-6 rounded-lg border border-slate-300 bg-slate-100 p-4">
          <p className="font-semibold">This product is no longer available</p>
          <p className="mt-1 text-sm text-slate-700">
            It has been withdrawn from sale.{' '}
            <Link to={`/c/${product.category.slug}`} className="font-medium text-sky-800 underline">
              See more in {product.category.name}
            </Link>
          </p>
        </div>
      )}
      <div className="grid gap-8 md:grid-cols-2">
        <Gallery product={product} />
        <div>
          <p className="text-sm font-medium tracking-wide text-slate-600 uppercase">
            <Link
              to={`/search?${new URLSearchParams({ brand: product.brand })}`}
              className="hover:underline"
            >
              {product.brand}
            </Link>
          </p>
          <h1 className="mt-1 text-2xl font-semibold md:text-3xl">{product.name}</h1>
          <div className="mt-4 flex items-baseline gap-3">
            <p className={`text-3xl font-bold ${archived ? 'text-slate-500 line-through' : ''}`}>
              {product.price.formatted}
            </p>
            {!archived && cheapest && cheapest.price.amount < product.price.amount && (
              <p className="text-sm text-slate-700">
                from <span className="font-semibold">{cheapest.price.formatted}</span> at{' '}
                {cheapest.seller.name}
              </p>
            )}
          </div>
          <div className="mt-2">
            <AvailabilityText value={product.availability} />
          </div>
          {!archived &&
            product.availability !== 'OUT_OF_STOCK' &&
            product.availability !== 'DISCONTINUED' && (
              <AddToCart productId={product.id} name={product.name} />
            )}
          {product.description && (
            <section aria-labelledby="about-heading" className="mt-6">
              <h2 id="about-heading" className="text-lg font-semibold">
                About this item
              </h2>
              <p className="mt-2 whitespace-pre-line text-slate-800">{product.description}</p>
            </section>
          )}
          {product.attributes.length > 0 && (
            <section aria-labelledby="specs-heading" className="mt-6">
              <h2 id="specs-heading" className="text-lg font-semibold">
                Specifications
              </h2>
              <dl className="mt-2 grid grid-cols-[max-content_1fr] gap-x-6 gap-y-1 text-sm">
                {product.attributes.map((attribute) => (
                  <div key={attribute.name} className="contents">
                    <dt className="text-slate-600">{attribute.name}</dt>
                    <dd>{attribute.value}</dd>
                  </div>
                ))}
                <div className="contents">
                  <dt className="text-slate-600">SKU</dt>
                  <dd>{product.sku}</dd>
                </div>
              </dl>
            </section>
          )}
          {!archived && product.listings.length > 0 && <Offers listings={product.listings} />}
        </div>
      </div>
      <RecentlyViewed current={product.slug} />
    </div>
  );
}

export function Component() {
  const { slug = '' } = useParams();
  const { data, loading, error, refetch } = useQuery(ShopProductDocument, { variables: { slug } });
  if (data?.productBySlug) return <Details product={data.productBySlug} />;
  if (error) {
    return (
      <div className="mx-auto max-w-7xl px-4 py-8">
        <title>Product · Emporium</title>
        <ErrorNotice
          error={error}
          title="We could not load this product"
          onRetry={() => void refetch()}
        />
      </div>
    );
  }
  if (loading || !data) return <ProductSkeleton />;
  return <NotFound />;
}
