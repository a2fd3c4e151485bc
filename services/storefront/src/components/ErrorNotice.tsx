import { describeError } from '../lib/errors';

interface Props {
  error: unknown;
  onRetry?: () => void;
  title?: string;
}

/** A failed request in plain language, with a way to try again. */
export function ErrorNotice({ error, onRetry, title = 'Something went wrong' }: Props) {
  const { message } = describeError(error);
  return (
    <div role="alert" className="rounded-lg border border-red-200 bg-red-50 p-4 text-red-900">
      <p className="font-semibold">{title}</p>
      <p className="mt-1 text-sm">{message}</p>
      {onRetry && (
        <button
          type="button"
          onClick={onRetry}
          className="mt-3 rounded-md bg-red-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-red-800"
        >
          Try again
        </button>
      )}
    </div>
  );
}
