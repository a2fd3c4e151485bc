// The signed-in session. The access token lives in this module's memory only; the refresh
// token lives in identity's HttpOnly cookie (Path=/auth/session), which page script can
// neither read nor send anywhere else. A page load restores the session from the cookie,
// and a timer refreshes the access token a minute before it expires (docs/storefront.md).
import { create } from 'zustand';
import { config } from '../config';

export interface SessionUser {
  id: string;
  email: string;
  roles: string[];
}

export type SessionStatus = 'unknown' | 'signedIn' | 'signedOut';

interface SessionState {
  status: SessionStatus;
  user: SessionUser | null;
}

/** What components read: whether someone is signed in, and who. */
export const useSession = create<SessionState>(() => ({ status: 'unknown', user: null }));

/** A refusal from identity's session routes, with identity's error code. */
export class SessionError extends Error {
  readonly code: string;
  readonly retryAfter: number | undefined;

  constructor(code: string, message: string, retryAfter?: number) {
    super(message);
    this.name = 'SessionError';
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

interface SessionPayload {
  accessToken: string;
  expiresIn: number;
  user: SessionUser;
}

// Refresh this long before the access token expires; the gateway allows 30 s of clock skew.
const REFRESH_MARGIN_MS = 60_000;
// After a refresh that failed for a passing reason (rate limit, identity unreachable).
const RETRY_MS = 30_000;
// Web Locks name: tabs of one browser share the cookie, so they take turns refreshing it (two
// tabs presenting the same refresh token at once would look like token theft to identity).
const REFRESH_LOCK = 'emporium-session-refresh';

// A hint (not a secret) that this browser signed in: without it a page load does not ask
// identity for a session, so anonymous shoppers cost identity nothing.
const HINT_KEY = 'emporium.session';

function hint(present: boolean): void {
  try {
    if (present) localStorage.setItem(HINT_KEY, '1');
    else localStorage.removeItem(HINT_KEY);
  } catch {
    // storage disabled: every page load asks identity instead
  }
}

function hinted(): boolean {
  try {
    return localStorage.getItem(HINT_KEY) !== null;
  } catch {
    return true;
  }
}

let accessToken: string | null = null;
let expiresAt = 0;
let timer: ReturnType<typeof setTimeout> | undefined;
let inflight: Promise<string | null> | null = null;

function schedule(delayMs: number): void {
  clearTimeout(timer);
  timer = setTimeout(() => {
    refreshSession().catch(() => schedule(RETRY_MS));
  }, delayMs);
}

function signedIn(payload: SessionPayload): void {
  accessToken = payload.accessToken;
  expiresAt = Date.now() + payload.expiresIn * 1000;
  schedule(Math.max(payload.expiresIn * 1000 - REFRESH_MARGIN_MS, 5_000));
  hint(true);
  const { id, email, roles } = payload.user;
  useSession.setState({ status: 'signedIn', user: { id, email, roles } });
}

function signedOut(): void {
  clearTimeout(timer);
  accessToken = null;
  expiresAt = 0;
  hint(false);
  useSession.setState({ status: 'signedOut', user: null });
}

async function post(path: string, body?: unknown): Promise<Response> {
  return fetch(`${config.identityUrl}/auth/session${path}`, {
    method: 'POST',
    credentials: 'include',
    headers: {
      'X-Emporium-CSRF': '1',
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function refusal(response: Response): Promise<SessionError> {
  try {
    const { error } = (await response.json()) as {
      error?: { code?: string; message?: string; retryAfter?: number };
    };
    if (error?.code) {
      return new SessionError(error.code, error.message ?? 'Sign-in failed', error.retryAfter);
    }
  } catch {
    // not JSON: fall through to the generic refusal
  }
  return new SessionError('UNAVAILABLE', 'The sign-in service is not answering');
}

function withLock<T>(task: () => Promise<T>): Promise<T> {
  const locks = typeof navigator === 'undefined' ? undefined : navigator.locks;
  return locks ? locks.request(REFRESH_LOCK, task) : task();
}

/**
 * Trade the session cookie for a new access token (and a rotated cookie). Resolves to the
 * token, or null when there is no session; rejects when identity could not answer.
 */
export function refreshSession(): Promise<string | null> {
  inflight ??= withLock(async () => {
    const response = await post('/refresh');
    if (response.ok) {
      signedIn((await response.json()) as SessionPayload);
      return accessToken;
    }
    if (response.status === 401) {
      signedOut();
      return null;
    }
    throw await refusal(response);
  }).finally(() => {
    inflight = null;
  });
  return inflight;
}

/**
 * At start: signed in if the browser holds a session cookie. `force` asks identity even
 * without the hint (back from a provider's sign-in, which set the cookie).
 */
export async function restoreSession({ force = false } = {}): Promise<void> {
  if (!force && !hinted()) {
    useSession.setState({ status: 'signedOut', user: null });
    return;
  }
  try {
    await refreshSession();
  } catch {
    // identity unreachable: browse signed out now, try again shortly
    useSession.setState({ status: 'signedOut', user: null });
    schedule(RETRY_MS);
  }
}

/** The access token for an API call, refreshed first when it is about to expire. */
export async function getAccessToken(): Promise<string | null> {
  if (accessToken && expiresAt - Date.now() > REFRESH_MARGIN_MS / 2) return accessToken;
  if (useSession.getState().status !== 'signedIn') return null;
  try {
    return await refreshSession();
  } catch {
    return null;
  }
}

/**
 * Move the refresh token that sign-in or registration just returned into the cookie.
 * identity rotates it on the way, so the token this page saw is spent at once.
 */
export async function adoptSession(refreshToken: string): Promise<void> {
  const response = await withLock(() => post('', { refreshToken }));
  if (!response.ok) throw await refusal(response);
  signedIn((await response.json()) as SessionPayload);
}

/** End this browser's session (the cookie is cleared by identity). */
export async function signOut(): Promise<void> {
  try {
    await post('/logout');
  } finally {
    signedOut();
  }
}

/** Where an OpenID Connect provider's sign-in starts; it comes back to `returnTo`. */
export function providerSignInUrl(provider: string, returnTo: string): string {
  const url = new URL(`${config.identityUrl}/oauth/${encodeURIComponent(provider)}/login`);
  url.searchParams.set('return_to', returnTo);
  return url.toString();
}

/** The OpenID Connect providers identity offers (none when it cannot say). */
export async function signInProviders(): Promise<string[]> {
  try {
    const response = await fetch(`${config.identityUrl}/oauth/providers`);
    if (!response.ok) return [];
    const body = (await response.json()) as { providers?: { name: string }[] };
    return (body.providers ?? []).map((provider) => provider.name);
  } catch {
    return [];
  }
}
