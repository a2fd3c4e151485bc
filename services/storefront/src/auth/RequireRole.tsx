import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { RequireSession } from './RequireSession';
import { useSession } from './session';

const AREAS: Record<string, string> = { SELLER: 'sellers', ADMIN: 'administrators' };

/**
 * Pages of one role: signed-out visitors sign in first, others are told the area is not
 * theirs. Only what is shown depends on this: the services refuse the calls of anyone
 * without the role anyway.
 */
export function RequireRole({ requires, children }: { requires: string; children: ReactNode }) {
  const roles = useSession((state) => state.user?.roles);
  return (
    <RequireSession>
      {roles?.includes(requires) ? (
        children
      ) : (
        <div className="mx-auto max-w-xl px-4 py-16 text-center">
          <title>Not available · Emporium</title>
          <h1 className="text-2xl font-semibold">This area is for {AREAS[requires] ?? requires}</h1>
          <p className="mt-2 text-slate-700">
            Your account does not have access to it. If you think it should, ask an administrator.
          </p>
          <Link
            to="/"
            className="mt-6 inline-block rounded-md bg-slate-900 px-4 py-2 font-medium text-white hover:bg-slate-700"
          >
            Go to the home page
          </Link>
        </div>
      )}
    </RequireSession>
  );
}
