import { useApolloClient } from '@apollo/client/react';
import { useEffect, useState, type FormEvent } from 'react';
import { Link, Navigate, useSearchParams } from 'react-router';
import { safeNext } from '../../auth/RequireSession';
import {
  adoptSession,
  providerSignInUrl,
  restoreSession,
  signInProviders,
  useSession,
} from '../../auth/session';
import { FormAlert, FormField, SubmitButton } from '../../components/FormField';
import { ShopLoginDocument } from '../../gql/graphql';
import { describeError } from '../../lib/errors';
import { checkEmail, problemsOf, type Problems } from '../../lib/validation';
import { AuthCard } from '../../components/AuthCard';

const PROVIDER_ERRORS: Record<string, string> = {
  OAUTH_DENIED: 'The sign-in was cancelled.',
  OAUTH_EMAIL_NOT_VERIFIED: 'That account’s email address is not verified with the provider.',
  OAUTH_PROVIDER_UNAVAILABLE: 'The sign-in provider is not answering. Please try again soon.',
};

function providerLabel(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** Sign in with email and password, or with an OpenID Connect provider. */
export function Component() {
  const client = useApolloClient();
  const status = useSession((state) => state.status);
  const [params] = useSearchParams();
  const next = safeNext(params.get('next'));
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [problems, setProblems] = useState<Problems>({});
  const providerError = params.get('signin_error');
  const [formError, setFormError] = useState<string | null>(
    providerError ? (PROVIDER_ERRORS[providerError] ?? 'Sign-in with the provider failed.') : null,
  );
  const [busy, setBusy] = useState(false);
  const [providers, setProviders] = useState<string[]>([]);

  const fromProvider = params.get('provider') === 'done' && !providerError;

  useEffect(() => {
    let current = true;
    void signInProviders().then((names) => current && setProviders(names));
    return () => {
      current = false;
    };
  }, []);

  // back from a provider: identity has set the session cookie
  useEffect(() => {
    if (fromProvider) void restoreSession({ force: true });
  }, [fromProvider]);

  if (status === 'signedIn') return <Navigate to={next} replace />;

  async function submit(event: FormEvent) {
    event.preventDefault();
    const found = problemsOf({
      email: checkEmail(email),
      password: password ? undefined : 'Enter your password',
    });
    setProblems(found);
    setFormError(null);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    try {
      const { data } = await client.mutate({
        mutation: ShopLoginDocument,
        variables: { input: { email: email.trim(), password } },
      });
      await adoptSession(data!.login.refreshToken);
    } catch (error) {
      const report = describeError(error);
      setProblems(report.fields);
      setFormError(
        report.code === 'INVALID_CREDENTIALS'
          ? 'The email or password is incorrect.'
          : report.message,
      );
    } finally {
      setBusy(false);
    }
  }

  const returnTo = `${window.location.origin}/account/sign-in?${new URLSearchParams({ next, provider: 'done' })}`;
  return (
    <AuthCard title="Sign in">
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
          label="Password"
          type="password"
          name="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(event) => setPassword(event.target.value)}
          error={problems.password}
        />
        <FormAlert message={formError} />
        <SubmitButton busy={busy} className="w-full">
          Sign in
        </SubmitButton>
      </form>
      {providers.length > 0 && (
        <div className="mt-6 border-t border-slate-200 pt-4">
          <p className="mb-2 text-center text-sm text-slate-700">Or continue with</p>
          <ul className="space-y-2">
            {providers.map((name) => (
              <li key={name}>
                <a
                  href={providerSignInUrl(name, returnTo)}
                  className="block rounded-md border border-slate-300 px-4 py-2 text-center font-medium hover:bg-slate-100"
                >
                  Sign in with {providerLabel(name)}
                </a>
              </li>
            ))}
          </ul>
        </div>
      )}
      <p className="mt-6 text-center text-sm text-slate-700">
        New to Emporium?{' '}
        <Link
          to={`/account/register?${new URLSearchParams({ next })}`}
          className="font-medium text-sky-800 underline"
        >
          Create an account
        </Link>
      </p>
    </AuthCard>
  );
}
