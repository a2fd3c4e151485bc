// An order's state in plain language (docs/checkout.md: the saga's statuses and the causes
// the services record).
import type { OrderStatus } from '../gql/graphql';

export const STATUS_LABELS: Record<OrderStatus, string> = {
  PENDING: 'Received',
  AWAITING_PAYMENT: 'Waiting for payment',
  AUTHORISED: 'Payment approved',
  RESERVED: 'Items set aside',
  CONFIRMED: 'Confirmed',
  SHIPPED: 'Shipped',
  DELIVERED: 'Delivered',
  PAYMENT_FAILED: 'Payment declined',
  CANCELLED: 'Cancelled',
  REFUNDED: 'Refunded',
};

/** Statuses after which checkout has nothing more to do on its own. */
export const SETTLED: ReadonlySet<OrderStatus> = new Set([
  'CONFIRMED',
  'SHIPPED',
  'DELIVERED',
  'PAYMENT_FAILED',
  'CANCELLED',
  'REFUNDED',
]);

export const FAILED: ReadonlySet<OrderStatus> = new Set(['PAYMENT_FAILED', 'CANCELLED']);

/** What a shopper reads about where the order is, and, for a failure, what to do next. */
export function describeOrder(status: OrderStatus, reason: string | null | undefined): string {
  const why = (reason ?? '').toLowerCase();
  switch (status) {
    case 'PENDING':
    case 'AWAITING_PAYMENT':
      return 'We are confirming your payment with your card issuer…';
    case 'AUTHORISED':
    case 'RESERVED':
      return 'Your payment is approved. We are setting your items aside…';
    case 'CONFIRMED':
      return 'Your order is confirmed. We have emailed you the details.';
    case 'SHIPPED':
      return 'Your order is on its way.';
    case 'DELIVERED':
      return 'Your order was delivered.';
    case 'REFUNDED':
      return 'This order was cancelled and your payment refunded.';
    case 'PAYMENT_FAILED':
      if (why.includes('insufficient')) {
        return 'Your card was declined for insufficient funds. Nothing was charged. Please try another card.';
      }
      if (why.includes('expired')) {
        return 'Your card has expired. Nothing was charged. Please try another card.';
      }
      return 'Your card was declined. Nothing was charged. Please try another card.';
    case 'CANCELLED':
      if (why.includes('out_of_stock') || why.includes('stock')) {
        return 'Some items sold out before we could set them aside, so the order was cancelled. Your card was not charged.';
      }
      if (why.includes('timeout') || why.includes('expired')) {
        return 'This order took too long to complete and was cancelled. Your card was not charged.';
      }
      return 'This order was cancelled. If you were charged, the payment is refunded.';
  }
}

export function formatDate(value: string): string {
  return new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'short' }).format(
    new Date(value),
  );
}

/** An order amount in minor units, as the cart shows prices ("$1,299.00"). */
export function formatAmount(amount: number, currency: string): string {
  const format = new Intl.NumberFormat('en-US', { style: 'currency', currency });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(amount / 10 ** digits);
}
