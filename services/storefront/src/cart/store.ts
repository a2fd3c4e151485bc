// The shopper's cart: a guest's (by its token) while signed out, the account's once signed
// in, when the guest cart is merged into it and the merge report kept to show. The cart
// service prices every answer; this only keeps the newest one (by the cart's version, since
// a mutation's answer and the live stream may arrive in either order).
import type { ApolloClient } from '@apollo/client';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import type { DocumentNode } from 'graphql';
import { create } from 'zustand';
import { getAccessToken, useSession } from '../auth/session';
import { config } from '../config';
import {
  ShopAddToCartDocument,
  ShopApplyCouponDocument,
  ShopCartDocument,
  ShopCartUpdatedDocument,
  ShopCreateGuestCartDocument,
  ShopMergeCartDocument,
  ShopMoveToCartDocument,
  ShopRemoveCouponDocument,
  ShopRemoveFromCartDocument,
  ShopSaveForLaterDocument,
  ShopSetCartLineQuantityDocument,
  type CartFieldsFragment,
  type ShopCartUpdatedSubscription,
  type ShopMergeCartMutation,
} from '../gql/graphql';
import { subscribeLive } from './live';
import { onCartTokenChange, readCartToken, writeCartToken } from './token';

export type Cart = CartFieldsFragment;
export type MergeReport = Omit<ShopMergeCartMutation['mergeCart'], 'cart'> & {
  /** Line names, from the merged cart. */
  names: Record<string, string>;
};

interface CartState {
  /** null: no cart yet (nothing was ever added), or not known yet. */
  cart: Cart | null;
  /** Whether the cart has been read (or there is none to read). */
  ready: boolean;
  /** What the last sign-in merged from the guest cart, until dismissed. */
  merge: MergeReport | null;
}

export const useCart = create<CartState>(() => ({ cart: null, ready: false, merge: null }));

// A guest token the cart service no longer accepts: the cart was merged or has expired.
const GONE = new Set(['CART_NOT_FOUND', 'CART_MERGED', 'CART_TOKEN_FORBIDDEN']);

function errorCode(error: unknown): string | undefined {
  if (!CombinedGraphQLErrors.is(error)) return undefined;
  const code = error.errors[0]?.extensions?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Keeps `cart` unless it is older than the one held (same cart, lower version). */
export function accept(cart: Cart): void {
  const held = useCart.getState().cart;
  if (held && held.id === cart.id && cart.version < held.version) return;
  useCart.setState({ cart, ready: true });
}

type Target = { cartToken?: string } | null;

let client: ApolloClient | null = null;
let closeLive: (() => void) | null = null;
let liveKey: string | null = null;

/** Which cart this browser names now: the account's, a guest's, or none yet. */
function target(): Target {
  const { status } = useSession.getState();
  if (status === 'signedIn') return {};
  const token = readCartToken();
  return token ? { cartToken: token } : null;
}

function follow(): void {
  const { status } = useSession.getState();
  const current = status === 'unknown' ? null : target();
  const key =
    current === null
      ? null
      : `${status}:${current.cartToken ?? useSession.getState().user?.id ?? ''}`;
  if (key === liveKey) {
    // no cart to follow, and now it is known there is none
    if (current === null && status !== 'unknown') useCart.setState({ ready: true });
    return;
  }
  closeLive?.();
  closeLive = null;
  liveKey = key;
  if (current === null) {
    useCart.setState({ cart: null, ready: status !== 'unknown' });
    return;
  }
  useCart.setState({ cart: null, ready: false });
  closeLive = subscribeLive<ShopCartUpdatedSubscription>({
    url: config.gatewayUrl,
    document: ShopCartUpdatedDocument,
    variables: current,
    token: getAccessToken,
    onData: (data) => accept(data.cartUpdated),
    onError: (errors) => {
      const code = errors[0]?.extensions?.code;
      if (current.cartToken && typeof code === 'string' && GONE.has(code)) forgetGuestCart();
      else useCart.setState({ ready: true });
    },
  });
}

function forgetGuestCart(): void {
  writeCartToken(null);
  follow();
}

function requireClient(): ApolloClient {
  if (!client) throw new Error('connectCart(client) first');
  return client;
}

/** Reads the cart now (the live stream also delivers it; this is for a page that must wait). */
export async function refreshCart(): Promise<void> {
  const current = target();
  if (current === null) {
    useCart.setState({ cart: null, ready: true });
    return;
  }
  try {
    const { data } = await requireClient().query({
      query: ShopCartDocument,
      variables: current,
      fetchPolicy: 'network-only',
    });
    if (data) accept(data.cart);
  } catch (error) {
    const code = errorCode(error);
    if (current.cartToken && code && GONE.has(code)) forgetGuestCart();
    else throw error;
  }
}

async function mutate<T>(document: DocumentNode, variables: Record<string, unknown>) {
  const { data } = await requireClient().mutate<T>({
    mutation: document,
    variables,
    fetchPolicy: 'no-cache',
  });
  if (!data) throw new Error('The cart service gave no answer');
  return data;
}

/** A change of the current cart (`pick` takes the cart out of the mutation's answer). */
async function change<T>(
  document: DocumentNode,
  input: Record<string, unknown>,
  pick: (data: T) => Cart,
): Promise<Cart> {
  const current = target();
  if (current === null) throw new Error('There is no cart to change');
  const cart = pick(await mutate<T>(document, { input: { ...current, ...input } }));
  accept(cart);
  return cart;
}

/** Adds units of a product, starting a guest cart for a signed-out shopper on the first add. */
export async function addToCart(productId: string, quantity = 1): Promise<Cart> {
  const attempt = async () => {
    if (target() === null) {
      const { createGuestCart } = await mutate<{
        createGuestCart: { token: string; cart: Cart };
      }>(ShopCreateGuestCartDocument, {});
      writeCartToken(createGuestCart.token);
      follow();
    }
    return change<{ addToCart: Cart }>(
      ShopAddToCartDocument,
      { productId, quantity },
      (d) => d.addToCart,
    );
  };
  try {
    return await attempt();
  } catch (error) {
    const code = errorCode(error);
    if (!readCartToken() || !code || !GONE.has(code)) throw error;
    // the guest cart is gone (expired, or merged in another tab): a new one
    forgetGuestCart();
    return attempt();
  }
}

export const setQuantity = (productId: string, quantity: number) =>
  change<{ setCartLineQuantity: Cart }>(
    ShopSetCartLineQuantityDocument,
    { productId, quantity },
    (d) => d.setCartLineQuantity,
  );

export const removeLine = (productId: string) =>
  change<{ removeFromCart: Cart }>(
    ShopRemoveFromCartDocument,
    { productId },
    (d) => d.removeFromCart,
  );

export const saveForLater = (productId: string) =>
  change<{ saveForLater: Cart }>(ShopSaveForLaterDocument, { productId }, (d) => d.saveForLater);

export const moveToCart = (productId: string) =>
  change<{ moveToCart: Cart }>(ShopMoveToCartDocument, { productId }, (d) => d.moveToCart);

export const applyCoupon = (code: string) =>
  change<{ applyCoupon: Cart }>(ShopApplyCouponDocument, { code }, (d) => d.applyCoupon);

export const removeCoupon = (code: string) =>
  change<{ removeCoupon: Cart }>(ShopRemoveCouponDocument, { code }, (d) => d.removeCoupon);

/** After sign-in: the guest cart into the account's, keeping the report to show. */
export async function mergeGuestCart(): Promise<void> {
  const guestToken = readCartToken();
  if (!guestToken || useSession.getState().status !== 'signedIn') return;
  try {
    const { mergeCart } = await mutate<ShopMergeCartMutation>(ShopMergeCartDocument, {
      guestToken,
    });
    const { cart, ...report } = mergeCart;
    const names = Object.fromEntries(
      [...cart.lines, ...cart.savedForLater].map((line) => [line.id, line.name]),
    );
    writeCartToken(null);
    follow(); // the account's cart from now on (this forgets the guest cart held)
    accept(cart);
    if (!report.alreadyMerged && (report.lines.length > 0 || report.coupons.length > 0)) {
      useCart.setState({ merge: { ...report, names } });
    }
  } catch (error) {
    const code = errorCode(error);
    // spent or unknown: nothing to merge any more; anything else is tried at the next sign-in
    if (code && GONE.has(code)) writeCartToken(null);
    follow();
  }
}

export function dismissMerge(): void {
  useCart.setState({ merge: null });
}

/**
 * Starts following the session: the account's cart when signed in (merging the guest cart
 * first), the guest cart otherwise, live. Returns the function that stops it.
 */
export function connectCart(apollo: ApolloClient): () => void {
  client = apollo;
  let status = useSession.getState().status;
  const stopSession = useSession.subscribe((state) => {
    if (state.status === status) return;
    status = state.status;
    if (status === 'signedIn' && readCartToken()) void mergeGuestCart();
    else follow();
  });
  const stopToken = onCartTokenChange(() => follow());
  if (status === 'signedIn' && readCartToken()) void mergeGuestCart();
  else follow();
  return () => {
    stopSession();
    stopToken();
    closeLive?.();
    closeLive = null;
    liveKey = null;
    client = null;
  };
}
