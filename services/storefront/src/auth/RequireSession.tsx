import type { ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router';
import { PageSkeleton } from '../components/Skeleton';
import { useSession } from './session';

/** Account pages: wait for the session check, send the signed-out to sign in first. */
export function RequireSession({ children }: { children: ReactNode }) {
  const status = useSession((state) => state.status);
  const location = useLocation();
  if (status === 'unknown') return <PageSkeleton />;
  if (status === 'signedOut') {
    const next = `${location.pathname}${location.search}`;
    return <Navigate to={`/account/sign-in?${new URLSearchParams({ next })}`} replace />;
  }
  return children;
}

/** Only same-site paths are followed after sign-in (no open redirects). */
export function safeNext(value: string | null, fallback = '/account'): string {
  if (!value || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) {
    return fallback;
  }
  return value;
}
