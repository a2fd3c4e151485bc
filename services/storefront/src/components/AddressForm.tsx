import { useId, useMemo, useState, type FormEvent } from 'react';
import type { AddressFieldsFragment } from '../gql/graphql';
import { countries } from '../lib/countries';
import { describeError } from '../lib/errors';
import {
  checkPhone,
  checkPostalCode,
  checkText,
  problemsOf,
  type Problems,
} from '../lib/validation';
import { FormAlert, FormField, SubmitButton } from './FormField';

/** An address being typed: every field a string. */
export interface AddressDraft {
  label: string;
  fullName: string;
  line1: string;
  line2: string;
  city: string;
  region: string;
  postalCode: string;
  country: string;
  phone: string;
}

export const EMPTY_ADDRESS: AddressDraft = {
  label: '',
  fullName: '',
  line1: '',
  line2: '',
  city: '',
  region: '',
  postalCode: '',
  country: '',
  phone: '',
};

export function draftOf(address: AddressFieldsFragment): AddressDraft {
  return {
    label: address.label ?? '',
    fullName: address.fullName,
    line1: address.line1,
    line2: address.line2 ?? '',
    city: address.city,
    region: address.region ?? '',
    postalCode: address.postalCode,
    country: address.country,
    phone: address.phone ?? '',
  };
}

function check(draft: AddressDraft): Problems {
  return problemsOf({
    label: checkText(draft.label, { max: 40 }),
    fullName: checkText(draft.fullName, { required: true }),
    line1: checkText(draft.line1, { required: true, max: 200 }),
    line2: checkText(draft.line2, { max: 200 }),
    city: checkText(draft.city, { required: true }),
    region: checkText(draft.region),
    postalCode: checkPostalCode(draft.postalCode),
    country: draft.country ? undefined : 'Choose a country',
    phone: checkPhone(draft.phone),
  });
}

/** The input: trimmed, optional fields empty → null (which clears them in a patch). */
export function inputOf(draft: AddressDraft) {
  const optional = (value: string) => value.trim() || null;
  return {
    label: optional(draft.label),
    fullName: draft.fullName.trim(),
    line1: draft.line1.trim(),
    line2: optional(draft.line2),
    city: draft.city.trim(),
    region: optional(draft.region),
    postalCode: draft.postalCode.trim(),
    country: draft.country,
    phone: optional(draft.phone),
  };
}

interface FormProps {
  initial: AddressDraft;
  submitLabel: string;
  onSubmit: (
    draft: AddressDraft,
    defaults: { shipping: boolean; billing: boolean },
  ) => Promise<void>;
  onCancel?: () => void;
  askDefaults: boolean;
}

/** The address form: identity's own checks before sending, its field errors after. */
export function AddressForm({ initial, submitLabel, onSubmit, onCancel, askDefaults }: FormProps) {
  const [draft, setDraft] = useState(initial);
  const [problems, setProblems] = useState<Problems>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [shipping, setShipping] = useState(false);
  const [billing, setBilling] = useState(false);
  const countryId = useId();
  const options = useMemo(() => countries(), []);

  const field = (name: keyof AddressDraft) => ({
    name,
    value: draft[name],
    onChange: (event: { target: { value: string } }) =>
      setDraft({ ...draft, [name]: event.target.value }),
    error: problems[name],
  });

  async function submit(event: FormEvent) {
    event.preventDefault();
    const found = check(draft);
    setProblems(found);
    setFormError(null);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    try {
      await onSubmit(draft, { shipping, billing });
    } catch (error) {
      const report = describeError(error);
      setProblems(report.fields);
      setFormError(report.message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form noValidate onSubmit={submit} className="grid gap-4 sm:grid-cols-2">
      <FormField
        label="Full name"
        required
        autoComplete="name"
        className="sm:col-span-2"
        {...field('fullName')}
      />
      <FormField
        label="Address line 1"
        required
        autoComplete="address-line1"
        className="sm:col-span-2"
        {...field('line1')}
      />
      <FormField
        label="Address line 2"
        autoComplete="address-line2"
        className="sm:col-span-2"
        {...field('line2')}
      />
      <FormField label="City" required autoComplete="address-level2" {...field('city')} />
      <FormField label="State or region" autoComplete="address-level1" {...field('region')} />
      <FormField label="Postal code" required autoComplete="postal-code" {...field('postalCode')} />
      <div>
        <label htmlFor={countryId} className="block text-sm font-medium text-slate-800">
          Country
        </label>
        <select
          id={countryId}
          name="country"
          required
          autoComplete="country"
          value={draft.country}
          onChange={(event) => setDraft({ ...draft, country: event.target.value })}
          aria-invalid={problems.country ? true : undefined}
          aria-describedby={problems.country ? `${countryId}-error` : undefined}
          className={`mt-1 block w-full rounded-md border bg-white px-3 py-2 ${
            problems.country ? 'border-red-600' : 'border-slate-300'
          }`}
        >
          <option value="">Choose…</option>
          {options.map((country) => (
            <option key={country.code} value={country.code}>
              {country.name}
            </option>
          ))}
        </select>
        {problems.country && (
          <p id={`${countryId}-error`} className="mt-1 text-sm text-red-700">
            {problems.country}
          </p>
        )}
      </div>
      <FormField
        label="Phone"
        type="tel"
        autoComplete="tel"
        hint="International format, e.g. +14155552671"
        {...field('phone')}
      />
      <FormField label="Label" hint="Such as Home or Work" maxLength={40} {...field('label')} />
      {askDefaults && (
        <fieldset className="space-y-1 sm:col-span-2">
          <legend className="sr-only">Defaults</legend>
          <label className="flex items-center gap-2 text-sm">
            <input
              type="checkbox"
              checked={shipping}
              onChange={() => setShipping(!shipping)}
              className="h-4 w-4 accent-amber-600"
            />
            Use as my default shipping address
          </label>
          <label className="flex items-center gap-2 text-sm">
            <input
              type="checkbox"
              checked={billing}
              onChange={() => setBilling(!billing)}
              className="h-4 w-4 accent-amber-600"
            />
            Use as my default billing address
          </label>
        </fieldset>
      )}
      <div className="space-y-3 sm:col-span-2">
        <FormAlert message={formError} />
        <div className="flex gap-3">
          <SubmitButton busy={busy} busyLabel="Saving…">
            {submitLabel}
          </SubmitButton>
          {onCancel && (
            <button
              type="button"
              onClick={onCancel}
              className="rounded-md border border-slate-300 px-4 py-2 font-medium hover:bg-slate-100"
            >
              Cancel
            </button>
          )}
        </div>
      </div>
    </form>
  );
}
