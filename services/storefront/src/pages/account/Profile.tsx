import { useMutation, useQuery } from '@apollo/client/react';
import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { signOut } from '../../auth/session';
import { ErrorNotice } from '../../components/ErrorNotice';
import { FormAlert, FormField } from '../../components/FormField';
import { Skeleton } from '../../components/Skeleton';
import {
  ShopLogoutEverywhereDocument,
  ShopMeDocument,
  ShopUpdateProfileDocument,
  type AccountUserFragment,
} from '../../gql/graphql';
import { describeError } from '../../lib/errors';
import {
  checkLocale,
  checkPhone,
  checkText,
  problemsOf,
  type Problems,
} from '../../lib/validation';
import { AccountShell } from '../../components/AccountShell';

function ProfileForm({ user }: { user: AccountUserFragment }) {
  const [displayName, setDisplayName] = useState(user.displayName ?? '');
  const [phone, setPhone] = useState(user.phone ?? '');
  const [locale, setLocale] = useState(user.locale ?? '');
  const [problems, setProblems] = useState<Problems>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [update, { loading }] = useMutation(ShopUpdateProfileDocument);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const found = problemsOf({
      displayName: checkText(displayName),
      phone: checkPhone(phone),
      locale: checkLocale(locale),
    });
    setProblems(found);
    setFormError(null);
    setSaved(false);
    if (Object.keys(found).length > 0) return;
    try {
      const { data } = await update({
        variables: {
          input: {
            displayName: displayName.trim() || null,
            phone: phone.trim() || null,
            locale: locale.trim() || null,
          },
        },
      });
      // the server stores the canonical forms (E.164 phone numbers)
      setPhone(data?.updateProfile.phone ?? '');
      setSaved(true);
    } catch (error) {
      const report = describeError(error);
      setProblems(report.fields);
      setFormError(report.message);
    }
  }

  return (
    <form noValidate onSubmit={submit} className="max-w-md space-y-4">
      <div>
        <p className="text-sm font-medium text-slate-800">Email</p>
        <p className="mt-1">
          {user.email}{' '}
          <span className={`text-xs ${user.emailVerified ? 'text-emerald-700' : 'text-slate-600'}`}>
            {user.emailVerified ? '(verified)' : '(not verified)'}
          </span>
        </p>
      </div>
      <FormField
        label="Name"
        name="displayName"
        autoComplete="name"
        maxLength={100}
        value={displayName}
        onChange={(event) => setDisplayName(event.target.value)}
        error={problems.displayName}
      />
      <FormField
        label="Phone"
        name="phone"
        type="tel"
        autoComplete="tel"
        hint="International format, e.g. +14155552671"
        value={phone}
        onChange={(event) => setPhone(event.target.value)}
        error={problems.phone}
      />
      <FormField
        label="Language"
        name="locale"
        hint="A language tag such as en or en-US"
        value={locale}
        onChange={(event) => setLocale(event.target.value)}
        error={problems.locale}
      />
      <FormAlert message={formError} />
      {saved && (
        <p role="status" className="rounded-md bg-emerald-50 p-3 text-sm text-emerald-900">
          Your profile was saved.
        </p>
      )}
      <button
        type="submit"
        disabled={loading}
        className="rounded-md bg-amber-400 px-4 py-2 font-semibold text-slate-900 hover:bg-amber-300 disabled:opacity-60"
      >
        {loading ? 'Saving…' : 'Save changes'}
      </button>
    </form>
  );
}

function SignOutEverywhere() {
  const navigate = useNavigate();
  const [logoutEverywhere, { loading }] = useMutation(ShopLogoutEverywhereDocument);
  const [error, setError] = useState<string | null>(null);
  return (
    <section aria-labelledby="security-heading" className="mt-10 border-t border-slate-200 pt-6">
      <h2 id="security-heading" className="text-lg font-semibold">
        Sign out everywhere
      </h2>
      <p className="mt-1 text-sm text-slate-700">
        Ends every session of your account, on this device and all others.
      </p>
      <FormAlert message={error} />
      <button
        type="button"
        disabled={loading}
        onClick={async () => {
          setError(null);
          try {
            await logoutEverywhere();
            await signOut();
            navigate('/');
          } catch (problem) {
            setError(describeError(problem).message);
          }
        }}
        className="mt-3 rounded-md border border-slate-300 px-4 py-2 text-sm font-medium hover:bg-slate-100 disabled:opacity-60"
      >
        Sign out everywhere
      </button>
    </section>
  );
}

function ProfileBody() {
  const { data, error, refetch } = useQuery(ShopMeDocument);
  if (data?.me) {
    return (
      <>
        <ProfileForm user={data.me} />
        <SignOutEverywhere />
      </>
    );
  }
  if (error) return <ErrorNotice error={error} onRetry={() => void refetch()} />;
  return (
    <div className="max-w-md space-y-4" role="status">
      <span className="sr-only">Loading your profile…</span>
      <Skeleton className="h-10" />
      <Skeleton className="h-10" />
      <Skeleton className="h-10" />
    </div>
  );
}

export function Component() {
  return (
    <AccountShell title="Profile">
      <ProfileBody />
    </AccountShell>
  );
}
