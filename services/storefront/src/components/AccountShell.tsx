import type { ReactNode } from 'react';
import { NavLink } from 'react-router';
import { RequireSession } from '../auth/RequireSession';

const LINKS = [
  { to: '/account', label: 'Profile' },
  { to: '/account/addresses', label: 'Addresses' },
  { to: '/account/orders', label: 'Orders' },
];

/** The account pages' frame: signed-in only, with their own navigation. */
export function AccountShell({ title, children }: { title: string; children: ReactNode }) {
  return (
    <RequireSession>
      <div className="mx-auto max-w-4xl px-4 py-8">
        <title>{`${title} · Emporium`}</title>
        <p className="text-sm text-slate-700">Your account</p>
        <h1 className="text-2xl font-semibold">{title}</h1>
        <nav aria-label="Account" className="mt-4 border-b border-slate-200">
          <ul className="flex gap-4">
            {LINKS.map((link) => (
              <li key={link.to}>
                <NavLink
                  to={link.to}
                  end
                  className={({ isActive }) =>
                    `-mb-px block border-b-2 px-1 pb-2 text-sm font-medium ${
                      isActive
                        ? 'border-amber-500 text-slate-900'
                        : 'border-transparent text-slate-700 hover:text-slate-900'
                    }`
                  }
                >
                  {link.label}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="mt-6">{children}</div>
      </div>
    </RequireSession>
  );
}
