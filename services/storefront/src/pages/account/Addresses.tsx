import { useMutation, useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { AddressForm, EMPTY_ADDRESS, draftOf, inputOf } from '../../components/AddressForm';
import { ErrorNotice } from '../../components/ErrorNotice';
import { FormAlert } from '../../components/FormField';
import { Skeleton } from '../../components/Skeleton';
import {
  ShopAddAddressDocument,
  ShopAddressesDocument,
  ShopDeleteAddressDocument,
  ShopSetDefaultAddressDocument,
  ShopUpdateAddressDocument,
  type AddressFieldsFragment,
  type AddressKind,
} from '../../gql/graphql';
import { countryName } from '../../lib/countries';
import { describeError } from '../../lib/errors';
import { AccountShell } from '../../components/AccountShell';

function AddressCard({ address, onEdit }: { address: AddressFieldsFragment; onEdit: () => void }) {
  const [remove, removing] = useMutation(ShopDeleteAddressDocument);
  const [setDefault, defaulting] = useMutation(ShopSetDefaultAddressDocument);
  const [error, setError] = useState<string | null>(null);
  async function run(action: () => Promise<unknown>) {
    setError(null);
    try {
      await action();
    } catch (problem) {
      setError(describeError(problem).message);
    }
  }
  const makeDefault = (kind: AddressKind) =>
    run(() => setDefault({ variables: { id: address.id, kind } }));
  const busy = removing.loading || defaulting.loading;
  return (
    <li className="flex flex-col rounded-lg border border-slate-200 bg-white p-4">
      <div className="flex flex-wrap gap-2">
        {address.label && <span className="text-sm font-semibold">{address.label}</span>}
        {address.isDefaultShipping && (
          <span className="rounded bg-amber-100 px-2 py-0.5 text-xs font-medium text-amber-900">
            Default shipping
          </span>
        )}
        {address.isDefaultBilling && (
          <span className="rounded bg-sky-100 px-2 py-0.5 text-xs font-medium text-sky-900">
            Default billing
          </span>
        )}
      </div>
      <address className="mt-2 text-sm not-italic">
        {address.fullName}
        <br />
        {address.line1}
        {address.line2 && (
          <>
            <br />
            {address.line2}
          </>
        )}
        <br />
        {[address.city, address.region, address.postalCode].filter(Boolean).join(', ')}
        <br />
        {countryName(address.country)}
        {address.phone && (
          <>
            <br />
            {address.phone}
          </>
        )}
      </address>
      <FormAlert message={error} />
      <div className="mt-3 flex flex-wrap gap-x-4 gap-y-1 text-sm">
        <button type="button" onClick={onEdit} className="font-medium text-sky-800 hover:underline">
          Edit
          <span className="sr-only">
            {' '}
            the address of {address.fullName}, {address.line1}
          </span>
        </button>
        <button
          type="button"
          disabled={busy}
          onClick={() => run(() => remove({ variables: { id: address.id } }))}
          className="font-medium text-red-700 hover:underline"
        >
          Remove
          <span className="sr-only">
            {' '}
            the address of {address.fullName}, {address.line1}
          </span>
        </button>
        {!address.isDefaultShipping && (
          <button
            type="button"
            disabled={busy}
            onClick={() => makeDefault('SHIPPING')}
            className="font-medium text-sky-800 hover:underline"
          >
            Make default for shipping
          </button>
        )}
        {!address.isDefaultBilling && (
          <button
            type="button"
            disabled={busy}
            onClick={() => makeDefault('BILLING')}
            className="font-medium text-sky-800 hover:underline"
          >
            Make default for billing
          </button>
        )}
      </div>
    </li>
  );
}

function AddressBook() {
  const { data, error, refetch } = useQuery(ShopAddressesDocument);
  const [add] = useMutation(ShopAddAddressDocument);
  const [update] = useMutation(ShopUpdateAddressDocument);
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<string | null>(null);

  if (error && !data) return <ErrorNotice error={error} onRetry={() => void refetch()} />;
  if (!data?.me) {
    return (
      <div className="grid gap-4 sm:grid-cols-2" role="status">
        <span className="sr-only">Loading your addresses…</span>
        <Skeleton className="h-40" />
        <Skeleton className="h-40" />
      </div>
    );
  }
  const addresses = data.me.addresses;
  return (
    <div>
      {addresses.length === 0 && !adding && (
        <p className="mb-4 text-slate-700">You have no saved addresses yet.</p>
      )}
      <ul className="grid gap-4 sm:grid-cols-2">
        {addresses.map((address) =>
          editing === address.id ? (
            <li
              key={address.id}
              className="rounded-lg border border-slate-200 bg-white p-4 sm:col-span-2"
            >
              <h2 className="mb-3 text-lg font-semibold">Edit address</h2>
              <AddressForm
                initial={draftOf(address)}
                submitLabel="Save address"
                askDefaults={false}
                onCancel={() => setEditing(null)}
                onSubmit={async (draft) => {
                  await update({ variables: { id: address.id, input: inputOf(draft) } });
                  setEditing(null);
                }}
              />
            </li>
          ) : (
            <AddressCard key={address.id} address={address} onEdit={() => setEditing(address.id)} />
          ),
        )}
      </ul>
      {adding ? (
        <section
          aria-labelledby="new-address-heading"
          className="mt-6 rounded-lg border border-slate-200 bg-white p-4"
        >
          <h2 id="new-address-heading" className="mb-3 text-lg font-semibold">
            New address
          </h2>
          <AddressForm
            initial={EMPTY_ADDRESS}
            submitLabel="Add address"
            askDefaults={addresses.length > 0}
            onCancel={() => setAdding(false)}
            onSubmit={async (draft, defaults) => {
              await add({
                variables: {
                  input: {
                    ...inputOf(draft),
                    defaultShipping: defaults.shipping,
                    defaultBilling: defaults.billing,
                  },
                },
              });
              setAdding(false);
            }}
          />
        </section>
      ) : (
        <button
          type="button"
          onClick={() => setAdding(true)}
          className="mt-6 rounded-md bg-amber-400 px-4 py-2 font-semibold text-slate-900 hover:bg-amber-300"
        >
          Add an address
        </button>
      )}
    </div>
  );
}

export function Component() {
  return (
    <AccountShell title="Addresses">
      <AddressBook />
    </AccountShell>
  );
}
