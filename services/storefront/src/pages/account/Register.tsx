import { useApolloClient } from '@apollo/client/react';
import { useState, type FormEvent } from 'react';
import { Link, Navigate, useSearchParams } from 'react-router';
import { safeNext } from '../../auth/RequireSession';
import { adoptSession, useSession } from '../../auth/session';
import { FormAlert, FormField, SubmitButton } from '../../components/FormField';
import { ShopRegisterDocument } from '../../gql/graphql';
import { describeError } from '../../lib/errors';
import {
  checkEmail,
  checkNewPassword,
  checkText,
  PASSWORD_MIN,
  problemsOf,
  type Problems,
} from '../../lib/validation';
import { AuthCard } from '../../components/AuthCard';

/** Create an account (signed in at once). */
export function Component() {
  const client = useApolloClient();
  const status = useSession((state) => state.status);
  const [params] = useSearchParams();
  const next = safeNext(params.get('next'));
  const [email, setEmail] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const [problems, setProblems] = useState<Problems>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (status === 'signedIn') return <Navigate to={next} replace />;

  async function submit(event: FormEvent) {
    event.preventDefault();
    const found = problemsOf({
      email: checkEmail(email),
      displayName: checkText(displayName),
      password: checkNewPassword(password, email),
    });
    setProblems(found);
    setFormError(null);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    try {
      const { data } = await client.mutate({
        mutation: ShopRegisterDocument,
        variables: {
          input: { email: email.trim(), password, displayName: displayName.trim() || null },
        },
      });
      await adoptSession(data!.register.refreshToken);
    } catch (error) {
      const report = describeError(error);
      setProblems(report.fields);
      setFormError(report.message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthCard title="Create your account">
      <form noValidate onSubmit={submit} className="space-y-4">
        <FormField
          label="Email"
          type="email"
          name="email"
          autoComplete="email"
          required
          value={email}
          onChange={(event) => setEmail(event.target.value)}
          error={problems.email}
        />
        <FormField
          label="Your name"
          name="displayName"
          autoComplete="name"
          maxLength={100}
          value={displayName}
          onChange={(event) => setDisplayName(event.target.value)}
          error={problems.displayName}
        />
        <FormField
          label="Password"
          type="password"
          name="password"
          autoComplete="new-password"
          required
          hint={`At least ${PASSWORD_MIN} characters. Avoid common passwords and your email.`}
          value={password}
          onChange={(event) => setPassword(event.target.value)}
          error={problems.password}
        />
        <FormAlert message={formError} />
        <SubmitButton busy={busy} className="w-full">
          Create account
        </SubmitButton>
      </form>
      <p className="mt-6 text-center text-sm text-slate-700">
        Already have an account?{' '}
        <Link
          to={`/account/sign-in?${new URLSearchParams({ next })}`}
          className="font-medium text-sky-800 underline"
        >
          Sign in
        </Link>
      </p>
    </AuthCard>
  );
}
