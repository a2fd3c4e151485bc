import { Suspense, useEffect } from 'react';
import { Link, Outlet, ScrollRestoration } from 'react-router';
import { AccountMenu } from '../components/AccountMenu';
import { CartBadge } from '../components/CartBadge';
import { CategoryMenu } from '../components/CategoryMenu';
import { MergeNotice } from '../components/MergeNotice';
import { SearchBox } from '../components/SearchBox';
import { PageSkeleton } from '../components/Skeleton';

function Logo() {
  return (
    <Link to="/" className="flex shrink-0 items-center gap-2 rounded px-1 py-1">
      <svg aria-hidden="true" viewBox="0 0 32 32" className="h-8 w-8">
        <rect width="32" height="32" rx="7" fill="#fbbf24" />
        <path d="M9 8h14v3.2H12.8v3.3h9v3.1h-9v3.2H23V24H9z" fill="#0f172a" />
      </svg>
      <span className="text-xl font-bold tracking-tight">Emporium</span>
    </Link>
  );
}

/** The header's silhouette and a page skeleton, before the first page has loaded. */
export function AppShellSkeleton() {
  return (
    <div className="flex min-h-screen flex-col">
      <div className="h-[104px] bg-slate-900 md:h-[100px]" />
      <PageSkeleton />
    </div>
  );
}

/** Every page: skip link, header (search, account, cart, categories), the page, footer. */
export function Layout() {
  // the page is live (a server-rendered one hydrated): what automation and monitoring wait on
  useEffect(() => {
    document.documentElement.dataset.app = 'ready';
  }, []);
  return (
    <div className="flex min-h-screen flex-col">
      <a
        href="#content"
        className="sr-only z-50 rounded bg-white px-4 py-2 text-slate-900 focus:not-sr-only focus:absolute focus:top-2 focus:left-2"
      >
        Skip to content
      </a>
      <header className="bg-slate-900 text-white">
        <div className="mx-auto flex max-w-7xl flex-wrap items-center gap-x-4 gap-y-2 px-4 py-3 md:flex-nowrap">
          <Logo />
          <div className="order-last w-full md:order-none md:flex-1">
            <SearchBox />
          </div>
          <div className="ml-auto flex items-center gap-1 md:ml-0">
            <AccountMenu />
            <CartBadge />
          </div>
        </div>
        <CategoryMenu />
      </header>
      <main id="content" tabIndex={-1} className="flex-1 focus:outline-none">
        <MergeNotice />
        <Suspense fallback={<PageSkeleton />}>
          <Outlet />
        </Suspense>
      </main>
      <footer className="mt-12 bg-slate-900 text-sm text-slate-300">
        <div className="mx-auto flex max-w-7xl flex-col gap-2 px-4 py-8 sm:flex-row sm:justify-between">
          <p>© Emporium. Electronics, home, fashion and more from trusted sellers.</p>
          <nav aria-label="Footer">
            <ul className="flex gap-4">
              <li>
                <Link to="/search" className="hover:text-white hover:underline">
                  All products
                </Link>
              </li>
              <li>
                <Link to="/account" className="hover:text-white hover:underline">
                  Your account
                </Link>
              </li>
            </ul>
          </nav>
        </div>
      </footer>
      <ScrollRestoration />
    </div>
  );
}
