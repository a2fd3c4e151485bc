// The admin area: accounts and their roles. Identity checks every change again (admins only;
// a seller is linked to one catalog seller; every account stays a customer). A role takes
// effect at the account's next token refresh, within minutes.
import { useMutation, useQuery } from '@apollo/client/react';
import { useState, type FormEvent } from 'react';
import { RequireRole } from '../../auth/RequireRole';
import { useSession } from '../../auth/session';
import { ErrorNotice } from '../../components/ErrorNotice';
import { FormAlert, SelectField } from '../../components/FormField';
import { Skeleton } from '../../components/Skeleton';
import {
  ShopAdminUsersDocument,
  ShopGrantRoleDocument,
  ShopRevokeRoleDocument,
  ShopSellersDocument,
  type AdminUserFragment,
  type Role,
} from '../../gql/graphql';
import { describeError } from '../../lib/errors';

const ROLE_LABELS: Record<Role, string> = {
  CUSTOMER: 'Customer',
  SELLER: 'Seller',
  ADMIN: 'Admin',
};

const FILTERS = [
  { value: '', label: 'Every account' },
  { value: 'SELLER', label: 'Sellers' },
  { value: 'ADMIN', label: 'Admins' },
];

function GrantSeller({ user, onDone }: { user: AdminUserFragment; onDone: () => void }) {
  const { data } = useQuery(ShopSellersDocument);
  const [sellerId, setSellerId] = useState('');
  const [problem, setProblem] = useState<string | undefined>();
  const [formError, setFormError] = useState<string | null>(null);
  const [grant, { loading }] = useMutation(ShopGrantRoleDocument);
  const sellers = [
    { value: '', label: data ? 'Choose a seller' : 'Loading sellers…' },
    ...(data?.sellers ?? []).map((seller) => ({ value: seller.id, label: seller.name })),
  ];

  async function submit(event: FormEvent) {
    event.preventDefault();
    setFormError(null);
    setProblem(sellerId ? undefined : 'Choose the seller this account acts for');
    if (!sellerId) return;
    try {
      await grant({ variables: { userId: user.id, role: 'SELLER', sellerId } });
      onDone();
    } catch (error) {
      const report = describeError(error);
      setProblem(report.fields.sellerId);
      setFormError(report.message);
    }
  }

  return (
    <form
      noValidate
      onSubmit={submit}
      aria-label={`Make ${user.email} a seller`}
      className="mt-3 flex flex-wrap items-end gap-2"
    >
      <SelectField
        label="Acts for seller"
        value={sellerId}
        onChange={(event) => setSellerId(event.target.value)}
        options={sellers}
        error={problem}
        className="min-w-56"
      />
      <button
        type="submit"
        disabled={loading}
        className="rounded-md bg-amber-400 px-3 py-2 text-sm font-semibold text-slate-900 hover:bg-amber-300 disabled:opacity-60"
      >
        {loading ? 'Saving…' : 'Make seller'}
      </button>
      <button
        type="button"
        onClick={onDone}
        className="rounded-md border border-slate-300 px-3 py-2 text-sm font-medium hover:bg-slate-100"
      >
        Cancel
      </button>
      <div className="w-full">
        <FormAlert message={formError} />
      </div>
    </form>
  );
}

function UserRow({ user, self }: { user: AdminUserFragment; self: boolean }) {
  const [choosingSeller, setChoosingSeller] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [grant, { loading: granting }] = useMutation(ShopGrantRoleDocument);
  const [revoke, { loading: revoking }] = useMutation(ShopRevokeRoleDocument);
  const busy = granting || revoking;
  const has = (role: Role) => user.roles.includes(role);

  async function change(action: () => Promise<unknown>) {
    setError(null);
    try {
      await action();
    } catch (problem) {
      setError(describeError(problem).message);
    }
  }

  const button =
    'rounded-md border border-slate-300 px-3 py-1.5 font-medium hover:bg-slate-100 disabled:opacity-60';
  return (
    <li className="border-b border-slate-200 py-4">
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <div>
          <p className="font-medium">{user.email}</p>
          <p className="text-sm text-slate-700">
            {user.displayName ? `${user.displayName} · ` : ''}
            {user.roles.map((role) => ROLE_LABELS[role]).join(', ')}
            {user.sellerId ? ` · seller ${user.sellerId}` : ''}
          </p>
        </div>
        <div className="flex flex-wrap gap-2 text-sm">
          {has('SELLER') ? (
            <button
              type="button"
              disabled={busy}
              aria-label={`Remove seller role from ${user.email}`}
              onClick={() =>
                change(() => revoke({ variables: { userId: user.id, role: 'SELLER' } }))
              }
              className={button}
            >
              Remove seller
            </button>
          ) : (
            <button
              type="button"
              disabled={busy}
              aria-label={`Make ${user.email} a seller`}
              aria-expanded={choosingSeller}
              onClick={() => setChoosingSeller(true)}
              className={button}
            >
              Make seller
            </button>
          )}
          {has('ADMIN') ? (
            // an admin cannot lock themselves out of this page
            !self && (
              <button
                type="button"
                disabled={busy}
                aria-label={`Remove admin role from ${user.email}`}
                onClick={() =>
                  change(() => revoke({ variables: { userId: user.id, role: 'ADMIN' } }))
                }
                className={button}
              >
                Remove admin
              </button>
            )
          ) : (
            <button
              type="button"
              disabled={busy}
              aria-label={`Make ${user.email} an admin`}
              onClick={() => change(() => grant({ variables: { userId: user.id, role: 'ADMIN' } }))}
              className={button}
            >
              Make admin
            </button>
          )}
        </div>
      </div>
      {choosingSeller && <GrantSeller user={user} onDone={() => setChoosingSeller(false)} />}
      {error && (
        <div className="mt-2">
          <FormAlert message={error} />
        </div>
      )}
    </li>
  );
}

function Accounts() {
  const [role, setRole] = useState('');
  const me = useSession((state) => state.user?.id);
  const { data, error, refetch, fetchMore } = useQuery(ShopAdminUsersDocument, {
    variables: { role: (role || null) as Role | null },
  });
  const [loadingMore, setLoadingMore] = useState(false);
  const users = data?.users;
  return (
    <section aria-labelledby="accounts">
      <div className="flex flex-wrap items-end justify-between gap-3">
        <h2 id="accounts" className="text-lg font-semibold">
          Accounts
          {users ? (
            <span className="ml-2 text-sm font-normal text-slate-700">
              {users.totalCount.toLocaleString('en-US')}
            </span>
          ) : null}
        </h2>
        <SelectField
          label="Show"
          value={role}
          onChange={(event) => setRole(event.target.value)}
          options={FILTERS}
        />
      </div>
      {error && !data ? (
        <div className="mt-4">
          <ErrorNotice error={error} onRetry={() => void refetch()} />
        </div>
      ) : !users ? (
        <div role="status" className="mt-4 space-y-3">
          <span className="sr-only">Loading accounts…</span>
          {Array.from({ length: 5 }, (_, i) => (
            <Skeleton key={i} className="h-14" />
          ))}
        </div>
      ) : users.edges.length === 0 ? (
        <p className="mt-4 text-slate-700">No account has this role.</p>
      ) : (
        <>
          <ul className="mt-2">
            {users.edges.map(({ node }) => (
              <UserRow key={node.id} user={node} self={node.id === me} />
            ))}
          </ul>
          {users.pageInfo.hasNextPage && (
            <button
              type="button"
              disabled={loadingMore}
              onClick={async () => {
                setLoadingMore(true);
                try {
                  await fetchMore({
                    variables: { after: users.pageInfo.endCursor },
                    updateQuery: (previous, { fetchMoreResult }) => ({
                      ...previous,
                      users: {
                        ...fetchMoreResult.users,
                        edges: [...previous.users.edges, ...fetchMoreResult.users.edges],
                      },
                    }),
                  });
                } finally {
                  setLoadingMore(false);
                }
              }}
              className="mt-4 rounded-md border border-slate-300 px-4 py-2 font-medium hover:bg-slate-100 disabled:opacity-60"
            >
              {loadingMore ? 'Loading…' : 'Show more'}
            </button>
          )}
        </>
      )}
    </section>
  );
}

export function Component() {
  return (
    <RequireRole requires="ADMIN">
      <div className="mx-auto max-w-4xl px-4 py-8">
        <title>Admin area · Emporium</title>
        <h1 className="text-2xl font-semibold">Admin area</h1>
        <p className="mt-1 text-sm text-slate-700">
          Accounts and their roles. A change applies when the account next refreshes its session,
          within a few minutes.
        </p>
        <div className="mt-6">
          <Accounts />
        </div>
      </div>
    </RequireRole>
  );
}
