import { Link, isRouteErrorResponse, useRouteError } from 'react-router';

/**
 * A page that failed to load or render. A chunk that cannot be fetched usually means a new
 * version of the shop was deployed since this tab opened: reloading fixes it.
 */
export function RouteError() {
  const error = useRouteError();
  const missingChunk =
    error instanceof TypeError &&
    /dynamically imported module|Importing a module/i.test(error.message);
  const notFound = isRouteErrorResponse(error) && error.status === 404;
  return (
    <div className="mx-auto max-w-xl px-4 py-16 text-center" role="alert">
      <title>Something went wrong · Emporium</title>
      <h1 className="text-2xl font-semibold">
        {notFound ? 'We could not find that page' : 'Something went wrong'}
      </h1>
      <p className="mt-2 text-slate-700">
        {missingChunk
          ? 'Emporium was updated while this page was open. Reload to continue.'
          : 'Please try again. If it keeps happening, come back a little later.'}
      </p>
      <div className="mt-6 flex justify-center gap-3">
        <button
          type="button"
          onClick={() => window.location.reload()}
          className="rounded-md bg-slate-900 px-4 py-2 font-medium text-white hover:bg-slate-700"
        >
          Reload
        </button>
        <Link
          to="/"
          className="rounded-md border border-slate-300 px-4 py-2 font-medium hover:bg-slate-100"
        >
          Go to the home page
        </Link>
      </div>
    </div>
  );
}
