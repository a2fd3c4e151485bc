import { skipToken, useQuery } from '@apollo/client/react';
import { useCallback, useId, useRef, useState } from 'react';
import { Link, useLocation, useNavigate } from 'react-router';
import { signOut, useSession } from '../auth/session';
import { ShopMeDocument } from '../gql/graphql';
import { useDismiss } from '../lib/useDismiss';

/** Signed out: links to sign in and register. Signed in: the account's pages and sign-out. */
export function AccountMenu() {
  const { status, user } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const { data } = useQuery(ShopMeDocument, status === 'signedIn' ? {} : skipToken);
  // open on the page it was opened on: any navigation closes it
  const [openAt, setOpenAt] = useState<string | null>(null);
  const panelId = useId();
  const panel = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const open = openAt === location.key;
  const close = useCallback(() => setOpenAt(null), []);
  useDismiss(open, close, panel, button);

  if (status === 'unknown') {
    return <div aria-hidden="true" className="h-10 w-28 animate-pulse rounded bg-slate-700" />;
  }
  if (status === 'signedOut') {
    const next = `${location.pathname}${location.search}`;
    return (
      <div className="flex items-center gap-3 text-sm whitespace-nowrap">
        <Link
          to={`/account/sign-in?${new URLSearchParams({ next })}`}
          className="rounded px-2 py-2 font-semibold hover:bg-slate-700"
        >
          Sign in
        </Link>
        <Link
          to="/account/register"
          className="hidden rounded px-2 py-2 hover:bg-slate-700 sm:block"
        >
          Register
        </Link>
      </div>
    );
  }
  const me = data?.me;
  const name = me?.displayName || me?.email.split('@')[0] || 'Account';
  return (
    <div className="relative text-sm">
      <button
        ref={button}
        type="button"
        aria-expanded={open}
        aria-controls={panelId}
        onClick={() => setOpenAt(open ? null : location.key)}
        className="flex items-center gap-1 rounded px-2 py-2 whitespace-nowrap hover:bg-slate-700"
      >
        <span className="max-w-40 truncate">
          Hello, <strong>{name}</strong>
        </span>
        <svg aria-hidden="true" viewBox="0 0 20 20" className="h-4 w-4" fill="currentColor">
          <path d="M5.5 7.5 10 12l4.5-4.5z" />
        </svg>
      </button>
      <div
        ref={panel}
        id={panelId}
        hidden={!open}
        className="absolute right-0 z-50 mt-1 w-56 rounded-md border border-slate-200 bg-white py-1 text-slate-900 shadow-lg"
      >
        <Link to="/account" className="block px-4 py-2 hover:bg-slate-100">
          Your profile
        </Link>
        <Link to="/account/addresses" className="block px-4 py-2 hover:bg-slate-100">
          Your addresses
        </Link>
        <Link to="/account/orders" className="block px-4 py-2 hover:bg-slate-100">
          Your orders
        </Link>
        {/* the areas of the account's roles (the services refuse everyone else anyway) */}
        {user?.roles.includes('SELLER') && (
          <Link to="/seller" className="block px-4 py-2 hover:bg-slate-100">
            Seller area
          </Link>
        )}
        {user?.roles.includes('ADMIN') && (
          <Link to="/admin" className="block px-4 py-2 hover:bg-slate-100">
            Admin area
          </Link>
        )}
        <button
          type="button"
          onClick={async () => {
            close();
            await signOut();
            navigate('/');
          }}
          className="block w-full px-4 py-2 text-left hover:bg-slate-100"
        >
          Sign out
        </button>
      </div>
    </div>
  );
}
