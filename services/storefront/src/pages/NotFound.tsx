import { Link } from 'react-router';

export function Component() {
  return (
    <div className="mx-auto max-w-xl px-4 py-16 text-center">
      <title>Page not found · Emporium</title>
      <h1 className="text-2xl font-semibold">We could not find that page</h1>
      <p className="mt-2 text-slate-700">The link may be old, or the page may have moved.</p>
      <div className="mt-6 flex justify-center gap-3">
        <Link
          to="/"
          className="rounded-md bg-slate-900 px-4 py-2 font-medium text-white hover:bg-slate-700"
        >
          Go to the home page
        </Link>
        <Link
          to="/search"
          className="rounded-md border border-slate-300 px-4 py-2 font-medium hover:bg-slate-100"
        >
          Browse all products
        </Link>
      </div>
    </div>
  );
}
