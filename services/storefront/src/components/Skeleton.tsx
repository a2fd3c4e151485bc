/** A grey placeholder block while content loads; hidden from assistive technology. */
export function Skeleton({ className = '' }: { className?: string }) {
  return (
    <div aria-hidden="true" className={`animate-pulse rounded-md bg-slate-200 ${className}`} />
  );
}

/** The page body while a page's code or first data loads. */
export function PageSkeleton() {
  return (
    <div className="mx-auto max-w-7xl px-4 py-8" role="status" aria-live="polite">
      <span className="sr-only">Loading…</span>
      <Skeleton className="mb-6 h-8 w-64" />
      <div className="grid grid-cols-2 gap-4 md:grid-cols-4">
        {Array.from({ length: 8 }, (_, i) => (
          <Skeleton key={i} className="aspect-[3/4]" />
        ))}
      </div>
    </div>
  );
}
