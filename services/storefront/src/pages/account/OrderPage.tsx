import { useQuery } from '@apollo/client/react';
import { useEffect } from 'react';
import { Link, useParams } from 'react-router';
import { RequireSession } from '../../auth/RequireSession';
import { ErrorNotice } from '../../components/ErrorNotice';
import { PageSkeleton } from '../../components/Skeleton';
import { ShopOrderDocument, type OrderFieldsFragment } from '../../gql/graphql';
import { countryName } from '../../lib/countries';
import {
  FAILED,
  SETTLED,
  STATUS_LABELS,
  describeOrder,
  formatAmount,
  formatDate,
} from '../../lib/orders';

// how often an order in progress is asked for its status (checkout takes a few seconds)
const POLL_MS = 1_000;

function StatusBanner({ order }: { order: OrderFieldsFragment }) {
  const failed = FAILED.has(order.status);
  const settled = SETTLED.has(order.status);
  const tone = failed
    ? 'border-red-200 bg-red-50 text-red-950'
    : settled
      ? 'border-emerald-200 bg-emerald-50 text-emerald-950'
      : 'border-sky-200 bg-sky-50 text-sky-950';
  return (
    <div
      role="status"
      aria-live="polite"
      aria-busy={!settled}
      className={`mt-4 rounded-lg border p-4 ${tone}`}
    >
      <p className="text-lg font-semibold" data-testid="order-status">
        {STATUS_LABELS[order.status]}
      </p>
      <p className="mt-1">{describeOrder(order.status, order.cancelReason)}</p>
      {failed && (
        <Link to="/cart" className="mt-2 inline-block font-semibold underline">
          Back to your cart
        </Link>
      )}
    </div>
  );
}

function OrderDetail({ order }: { order: OrderFieldsFragment }) {
  const money = (amount: number) => formatAmount(amount, order.currency);
  return (
    <div className="mx-auto max-w-4xl px-4 py-8">
      <title>{`Order ${order.id} · Emporium`}</title>
      <p className="text-sm text-slate-700">
        <Link to="/account/orders" className="underline">
          Your orders
        </Link>
      </p>
      <h1 className="text-2xl font-semibold">Order {order.id}</h1>
      <p className="text-sm text-slate-700">Placed {formatDate(order.createdAt)}</p>
      <StatusBanner order={order} />
      <div className="mt-6 grid gap-6 md:grid-cols-2">
        <section aria-labelledby="items-heading">
          <h2 id="items-heading" className="text-lg font-semibold">
            Items
          </h2>
          <ul className="mt-2 divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white px-4">
            {order.items.map((item) => (
              <li key={item.orderItemId} className="flex justify-between gap-3 py-3 text-sm">
                <span>
                  {item.quantity} × <span className="font-medium">{item.name}</span> at{' '}
                  {money(item.priceAtPurchase.amount)}
                  <span className="block text-xs text-slate-600">SKU {item.sku}</span>
                  {item.discounts.map((discount) => (
                    <span key={discount.offerId} className="block text-emerald-800">
                      {discount.label}: −{money(discount.amount)}
                    </span>
                  ))}
                </span>
                <span>{money(item.total)}</span>
              </li>
            ))}
          </ul>
          <dl className="mt-3 space-y-1 text-sm">
            <div className="flex justify-between">
              <dt>Subtotal</dt>
              <dd>{money(order.pricing.subtotal)}</dd>
            </div>
            {order.pricing.discounts.map((discount) => (
              <div key={discount.offerId} className="flex justify-between text-emerald-800">
                <dt>{discount.label}</dt>
                <dd>−{money(discount.amount)}</dd>
              </div>
            ))}
            <div className="flex justify-between">
              <dt>Shipping</dt>
              <dd>{money(order.pricing.shipping - order.pricing.shippingDiscount)}</dd>
            </div>
            <div className="flex justify-between border-t border-slate-200 pt-1 text-base font-semibold">
              <dt>Total</dt>
              <dd>{money(order.totalAmount)}</dd>
            </div>
          </dl>
          {order.coupons.length > 0 && (
            <p className="mt-2 text-sm text-slate-700">Coupons: {order.coupons.join(', ')}</p>
          )}
        </section>
        <section aria-labelledby="ship-heading">
          <h2 id="ship-heading" className="text-lg font-semibold">
            Shipping to
          </h2>
          <address className="mt-2 text-sm not-italic">
            {order.shippingAddress.name}
            <br />
            {order.shippingAddress.line1}
            {order.shippingAddress.line2 && (
              <>
                <br />
                {order.shippingAddress.line2}
              </>
            )}
            <br />
            {order.shippingAddress.postalCode} {order.shippingAddress.city}
            <br />
            {countryName(order.shippingAddress.country)}
          </address>
          <h2 className="mt-6 text-lg font-semibold">History</h2>
          <ol className="mt-2 space-y-1 text-sm">
            {order.statusHistory.map((change) => (
              <li key={`${change.status}-${change.at}`}>
                <span className="font-medium">{STATUS_LABELS[change.status]}</span>{' '}
                <span className="text-slate-700">{formatDate(change.at)}</span>
              </li>
            ))}
          </ol>
        </section>
      </div>
    </div>
  );
}

function FollowOrder({ id }: { id: string }) {
  const { data, error, refetch, startPolling, stopPolling } = useQuery(ShopOrderDocument, {
    variables: { id },
    fetchPolicy: 'cache-and-network',
    notifyOnNetworkStatusChange: false,
  });
  const status = data?.order?.status;
  const settled = status !== undefined && SETTLED.has(status);
  useEffect(() => {
    if (settled) return;
    startPolling(POLL_MS);
    return () => stopPolling();
  }, [settled, startPolling, stopPolling]);

  if (data?.order) return <OrderDetail order={data.order} />;
  if (error) {
    return (
      <div className="mx-auto max-w-4xl px-4 py-8">
        <ErrorNotice
          error={error}
          title="We could not load this order"
          onRetry={() => void refetch()}
        />
      </div>
    );
  }
  if (data && !data.order) {
    return (
      <div className="mx-auto max-w-4xl px-4 py-8">
        <title>Order · Emporium</title>
        <h1 className="text-2xl font-semibold">We could not find this order</h1>
        <Link to="/account/orders" className="mt-2 inline-block text-sky-800 underline">
          Your orders
        </Link>
      </div>
    );
  }
  return <PageSkeleton />;
}

export function Component() {
  const { id = '' } = useParams();
  return (
    <RequireSession>
      <FollowOrder id={id} />
    </RequireSession>
  );
}
