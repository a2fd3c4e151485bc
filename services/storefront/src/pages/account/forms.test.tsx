import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { useSession } from '../../auth/session';
import {
  ShopAddAddressDocument,
  ShopAddressesDocument,
  ShopLoginDocument,
  ShopRegisterDocument,
} from '../../gql/graphql';
import { renderPage } from '../../test/render';
import { Component as Addresses } from './Addresses';
import { Component as Register } from './Register';
import { Component as SignIn } from './SignIn';

const PASSWORD = 'correct horse battery staple';

function validationError(code: string, message: string, field: string[]) {
  return {
    message: `${message} at ${field.join('.')}`,
    extensions: { code, kind: 'VALIDATION_FAILED', field, errors: [{ code, message, field }] },
  };
}

beforeEach(() => {
  // identity's provider list; sign-in and registration fail before any session call here
  vi.stubGlobal(
    'fetch',
    vi.fn(async () => new Response(JSON.stringify({ providers: [] }), { status: 200 })),
  );
  useSession.setState({ status: 'signedOut', user: null });
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('registration', () => {
  it('checks the fields as identity does before sending anything', async () => {
    renderPage({ routes: { '/account/register': Register }, url: '/account/register' });
    await userEvent.type(screen.getByLabelText('Email'), 'ada.lovelace@example.com');
    await userEvent.type(screen.getByLabelText('Password'), 'ada.lovelace-2024');
    await userEvent.click(screen.getByRole('button', { name: 'Create account' }));
    const password = screen.getByLabelText('Password');
    expect(password).toHaveAttribute('aria-invalid', 'true');
    expect(password).toHaveAccessibleDescription(/must not contain your email/);
    await userEvent.clear(password);
    await userEvent.type(password, 'short');
    await userEvent.click(screen.getByRole('button', { name: 'Create account' }));
    expect(password).toHaveAccessibleDescription(/Use at least 10 characters/);
  });

  it('shows the server’s field errors on their fields', async () => {
    renderPage({
      routes: { '/account/register': Register },
      url: '/account/register',
      mocks: [
        {
          request: {
            query: ShopRegisterDocument,
            variables: {
              input: { email: 'ada@example.com', password: 'password123456', displayName: null },
            },
          },
          result: {
            errors: [
              validationError(
                'PASSWORD_TOO_COMMON',
                'This password is too common; choose another',
                ['input', 'password'],
              ),
            ],
          },
        },
      ],
    });
    await userEvent.type(screen.getByLabelText('Email'), 'ada@example.com');
    await userEvent.type(screen.getByLabelText('Password'), 'password123456');
    await userEvent.click(screen.getByRole('button', { name: 'Create account' }));
    expect(
      await screen.findByText('This password is too common; choose another'),
    ).toBeInTheDocument();
    expect(screen.getByLabelText('Password')).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByRole('alert')).toHaveTextContent('Please check the highlighted fields.');
  });
});

describe('sign-in', () => {
  it('reports wrong credentials without saying which part was wrong', async () => {
    renderPage({
      routes: { '/account/sign-in': SignIn },
      url: '/account/sign-in',
      mocks: [
        {
          request: {
            query: ShopLoginDocument,
            variables: { input: { email: 'ada@example.com', password: PASSWORD } },
          },
          result: {
            errors: [
              {
                message: 'The email or password is incorrect',
                extensions: { code: 'INVALID_CREDENTIALS', kind: 'UNAUTHENTICATED', field: null },
              },
            ],
          },
        },
      ],
    });
    await userEvent.type(screen.getByLabelText('Email'), 'ada@example.com');
    await userEvent.type(screen.getByLabelText('Password'), PASSWORD);
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The email or password is incorrect.',
    );
  });

  it('tells a locked-out shopper how long to wait', async () => {
    renderPage({
      routes: { '/account/sign-in': SignIn },
      url: '/account/sign-in',
      mocks: [
        {
          request: {
            query: ShopLoginDocument,
            variables: { input: { email: 'ada@example.com', password: PASSWORD } },
          },
          result: {
            errors: [
              {
                message: 'Too many failed sign-ins',
                extensions: { code: 'ACCOUNT_LOCKED', kind: 'RATE_LIMITED', retryAfter: 8 },
              },
            ],
          },
        },
      ],
    });
    await userEvent.type(screen.getByLabelText('Email'), 'ada@example.com');
    await userEvent.type(screen.getByLabelText('Password'), PASSWORD);
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Please try again in 8 seconds.');
  });

  it('asks for both fields', async () => {
    renderPage({ routes: { '/account/sign-in': SignIn }, url: '/account/sign-in' });
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(screen.getByLabelText('Email')).toHaveAccessibleDescription('Enter your email address');
    expect(screen.getByLabelText('Password')).toHaveAccessibleDescription('Enter your password');
  });
});

describe('address book', () => {
  it('shows the server’s field error on the postal code', async () => {
    useSession.setState({
      status: 'signedIn',
      user: { id: 'u-1', email: 'ada@example.com', roles: ['CUSTOMER'] },
    });
    const input = {
      label: null,
      fullName: 'Ada Lovelace',
      line1: '12 St James’s Square',
      line2: null,
      city: 'London',
      region: null,
      postalCode: 'SW1Y-4JH',
      country: 'GB',
      phone: null,
      defaultShipping: false,
      defaultBilling: false,
    };
    renderPage({
      routes: { '/account/addresses': Addresses },
      url: '/account/addresses',
      mocks: [
        {
          request: { query: ShopAddressesDocument },
          result: {
            data: { __typename: 'Query', me: { __typename: 'User', id: 'u-1', addresses: [] } },
          },
        },
        {
          request: { query: ShopAddAddressDocument, variables: { input } },
          result: {
            errors: [
              validationError('INVALID_POSTAL_CODE', 'This postal code does not exist in GB', [
                'input',
                'postalCode',
              ]),
            ],
          },
        },
      ],
    });
    await userEvent.click(await screen.findByRole('button', { name: 'Add an address' }));
    const form = screen.getByRole('region', { name: 'New address' });
    await userEvent.type(within(form).getByLabelText('Full name'), input.fullName);
    await userEvent.type(within(form).getByLabelText('Address line 1'), input.line1);
    await userEvent.type(within(form).getByLabelText('City'), input.city);
    await userEvent.type(within(form).getByLabelText('Postal code'), input.postalCode);
    await userEvent.selectOptions(within(form).getByLabelText('Country'), 'GB');
    await userEvent.click(within(form).getByRole('button', { name: 'Add address' }));
    const postalCode = within(form).getByLabelText('Postal code');
    expect(
      await within(form).findByText('This postal code does not exist in GB'),
    ).toBeInTheDocument();
    expect(postalCode).toHaveAttribute('aria-invalid', 'true');
  });
});
