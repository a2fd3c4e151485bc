// The checks the shop runs before sending a form: the same rules identity applies
// (docs/identity.md), so most mistakes are caught without a round trip. The server's own
// field errors still show, for what only it can check (common passwords, real phone numbers,
// taken addresses).

export type Problems = Record<string, string>;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const LOCALE = /^[a-z]{2,3}(?:-[A-Z]{2}|-[A-Za-z]{4}|-\d{3})?$/;
const POSTAL_CODE = /^[A-Za-z0-9][A-Za-z0-9 -]*[A-Za-z0-9]$/;
const PHONE = /^\+[0-9][0-9 ()-]{5,30}$/;

export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 128;

export function checkEmail(value: string): string | undefined {
  const email = value.trim();
  if (!email) return 'Enter your email address';
  if (email.length > 320 || !EMAIL.test(email)) return 'Enter a valid email address';
  return undefined;
}

export function checkNewPassword(password: string, email: string): string | undefined {
  const value = password.normalize('NFKC');
  if (value.length < PASSWORD_MIN) return `Use at least ${PASSWORD_MIN} characters`;
  if (value.length > PASSWORD_MAX) return `Use at most ${PASSWORD_MAX} characters`;
  const lowered = value.toLowerCase();
  if (new Set(lowered).size <= 2) return 'This password is too common; choose another';
  const address = email.trim().toLowerCase();
  const local = address.split('@')[0] ?? '';
  if (lowered === address || (local.length >= 4 && lowered.includes(local))) {
    return 'The password must not contain your email';
  }
  return undefined;
}

export function checkText(value: string, { required = false, max = 100 } = {}): string | undefined {
  const text = value.trim();
  if (!text) return required ? 'This field is required' : undefined;
  if (text.length > max) return `Use at most ${max} characters`;
  return undefined;
}

export function checkPhone(value: string): string | undefined {
  const phone = value.trim();
  if (!phone) return undefined;
  if (!PHONE.test(phone)) return 'Use the international format, e.g. +14155552671';
  return undefined;
}

export function checkLocale(value: string): string | undefined {
  const locale = value.trim();
  if (!locale) return undefined;
  if (!LOCALE.test(locale)) return 'Use a language tag such as en or en-US';
  return undefined;
}

export function checkPostalCode(value: string): string | undefined {
  const code = value.trim().split(/\s+/).join(' ');
  if (!code) return 'This field is required';
  if (code.length < 2 || code.length > 10 || !POSTAL_CODE.test(code)) {
    return 'Postal codes have 2-10 letters, digits, spaces or hyphens';
  }
  return undefined;
}

/** Only the problems that were found. */
export function problemsOf(checks: Record<string, string | undefined>): Problems {
  return Object.fromEntries(
    Object.entries(checks).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}
