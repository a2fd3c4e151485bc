import { Link } from 'react-router';
import { useRecentlyViewed } from '../lib/recentlyViewed';
import { ProductImage } from './ProductImage';

const SHOWN = 6;

/** The products this browser viewed before, ``current`` aside; nothing before the first. */
export function RecentlyViewed({ current }: { current: string }) {
  const viewed = useRecentlyViewed()
    .filter((item) => item.slug !== current)
    .slice(0, SHOWN);
  if (viewed.length === 0) return null;
  return (
    <section aria-labelledby="recent-heading" className="mt-10">
      <h2 id="recent-heading" className="mb-3 text-xl font-semibold">
        Recently viewed
      </h2>
      <ul className="grid grid-cols-2 gap-4 sm:grid-cols-3 lg:grid-cols-6">
        {viewed.map((item) => (
          <li key={item.slug}>
            <Link to={`/p/${item.slug}`} className="group block">
              <ProductImage
                src={item.image ?? undefined}
                alt=""
                label={item.name}
                slot="card"
                className="aspect-square w-full rounded-md border border-slate-200 bg-white"
              />
              <span className="mt-2 line-clamp-2 block text-sm group-hover:underline">
                {item.name}
              </span>
              <span className="text-sm font-semibold">{item.price}</span>
            </Link>
          </li>
        ))}
      </ul>
    </section>
  );
}
