import { useQuery } from '@apollo/client/react';
import { Link } from 'react-router';
import { ErrorNotice } from '../../components/ErrorNotice';
import { Skeleton } from '../../components/Skeleton';
import { ShopMyOrdersDocument } from '../../gql/graphql';
import { FAILED, STATUS_LABELS, formatAmount, formatDate } from '../../lib/orders';
import { AccountShell } from '../../components/AccountShell';

function OrderList() {
  const { data, error, refetch } = useQuery(ShopMyOrdersDocument, {
    fetchPolicy: 'cache-and-network',
  });
  if (error && !data) return <ErrorNotice error={error} onRetry={() => void refetch()} />;
  if (!data) {
    return (
      <div className="space-y-3" role="status">
        <span className="sr-only">Loading your orders…</span>
        <Skeleton className="h-16" />
        <Skeleton className="h-16" />
      </div>
    );
  }
  if (data.myOrders.length === 0) {
    return (
      <p className="text-slate-700">
        You have not placed an order yet.{' '}
        <Link to="/search" className="font-medium text-sky-800 underline">
          Browse all products
        </Link>
      </p>
    );
  }
  return (
    <ul
      aria-label="Your orders"
      className="divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white"
    >
      {data.myOrders.map((order) => {
        const units = order.items.reduce((sum, item) => sum + item.quantity, 0);
        return (
          <li key={order.id} className="flex flex-wrap items-center justify-between gap-3 p-4">
            <div>
              <Link
                to={`/account/orders/${order.id}`}
                className="font-medium text-sky-800 underline"
              >
                Order {order.id}
              </Link>
              <p className="text-sm text-slate-700">
                {formatDate(order.createdAt)} · {units} {units === 1 ? 'item' : 'items'}
              </p>
            </div>
            <div className="text-right">
              <p className="font-semibold">{formatAmount(order.totalAmount, order.currency)}</p>
              <p
                className={`text-sm font-medium ${
                  FAILED.has(order.status) ? 'text-red-700' : 'text-slate-800'
                }`}
              >
                {STATUS_LABELS[order.status]}
              </p>
            </div>
          </li>
        );
      })}
    </ul>
  );
}

export function Component() {
  return (
    <AccountShell title="Orders">
      <OrderList />
    </AccountShell>
  );
}
