import { Link } from 'react-router';
import type { ProductCardFragment } from '../gql/graphql';
import { AvailabilityText } from './Availability';
import { ProductImage } from './ProductImage';

export function ProductCard({ product, eager }: { product: ProductCardFragment; eager?: boolean }) {
  const image = product.images[0];
  return (
    <article className="group relative flex h-full flex-col overflow-hidden rounded-lg border border-slate-200 bg-white shadow-sm transition hover:shadow-md">
      <ProductImage
        src={image?.url}
        alt={image?.alt || product.name}
        label={product.name}
        eager={eager}
        slot="card"
        className="aspect-square w-full"
      />
      <div className="flex flex-1 flex-col gap-1 p-3">
        <p className="text-xs font-medium tracking-wide text-slate-600 uppercase">
          {product.brand}
        </p>
        <h2 className="line-clamp-2 text-sm font-medium text-slate-900">
          <Link
            to={`/p/${product.slug}`}
            className="after:absolute after:inset-0 group-hover:underline focus-visible:underline"
          >
            {product.name}
          </Link>
        </h2>
        <p className="mt-auto pt-1 text-lg font-semibold text-slate-900">
          {product.price.formatted}
        </p>
        <AvailabilityText value={product.availability} />
      </div>
    </article>
  );
}
