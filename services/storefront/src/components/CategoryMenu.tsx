import { useCallback, useId, useRef, useState } from 'react';
import { Link, useLocation } from 'react-router';
import { useCategoryTree } from '../app/categories';
import { useDismiss } from '../lib/useDismiss';

/**
 * "All categories": a disclosure with the whole tree (a side drawer on phones, a wide panel
 * on larger screens), plus the root categories as a bar on larger screens.
 */
export function CategoryMenu() {
  const { roots } = useCategoryTree();
  // open on the page it was opened on: any navigation closes it
  const [openAt, setOpenAt] = useState<string | null>(null);
  const panelId = useId();
  const panel = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const location = useLocation();
  const open = openAt === location.key;
  const close = useCallback(() => setOpenAt(null), []);
  useDismiss(open, close, panel, button);

  return (
    <nav aria-label="Categories" className="bg-slate-800 text-white">
      <div className="relative mx-auto flex max-w-7xl items-center gap-1 overflow-x-auto px-2 text-sm">
        <button
          ref={button}
          type="button"
          aria-expanded={open}
          aria-controls={panelId}
          onClick={() => setOpenAt(open ? null : location.key)}
          className="flex shrink-0 items-center gap-2 rounded px-2 py-2 font-semibold hover:bg-slate-700"
        >
          <svg aria-hidden="true" viewBox="0 0 20 20" className="h-5 w-5" fill="currentColor">
            <path d="M3 5h14v2H3zM3 9h14v2H3zM3 13h14v2H3z" />
          </svg>
          All categories
        </button>
        <ul className="hidden items-center gap-1 md:flex">
          {roots.map((root) => (
            <li key={root.id}>
              <Link
                to={`/c/${root.slug}`}
                className="block rounded px-2 py-2 whitespace-nowrap hover:bg-slate-700"
              >
                {root.name}
              </Link>
            </li>
          ))}
        </ul>
      </div>
      <div
        ref={panel}
        id={panelId}
        hidden={!open}
        className="fixed inset-y-0 left-0 z-50 w-80 max-w-[85vw] overflow-y-auto bg-white p-4 text-slate-900 shadow-2xl md:absolute md:inset-x-0 md:top-auto md:bottom-auto md:w-auto md:max-w-none md:border-b md:border-slate-200"
      >
        <div className="mb-3 flex items-center justify-between md:hidden">
          <p className="text-lg font-semibold">All categories</p>
          <button
            type="button"
            onClick={() => {
              close();
              button.current?.focus();
            }}
            className="rounded px-2 py-1 text-sm font-medium hover:bg-slate-100"
          >
            Close
          </button>
        </div>
        {open && (
          <ul className="mx-auto grid max-w-7xl gap-x-6 gap-y-4 md:grid-cols-3 lg:grid-cols-5">
            {roots.map((root) => (
              <li key={root.id}>
                <Link to={`/c/${root.slug}`} className="font-semibold hover:underline">
                  {root.name}
                </Link>
                <ul className="mt-1 space-y-0.5 text-sm text-slate-700">
                  {(root.children ?? []).map((child) => (
                    <li key={child.id}>
                      <Link
                        to={`/c/${child.slug}`}
                        className="hover:text-slate-900 hover:underline"
                      >
                        {child.name}
                      </Link>
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        )}
      </div>
    </nav>
  );
}
