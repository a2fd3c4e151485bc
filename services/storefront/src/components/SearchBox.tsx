import { skipToken, useQuery } from '@apollo/client/react';
import { useId, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { useLocation, useNavigate } from 'react-router';
import { ShopSuggestDocument, type ShopSuggestQuery } from '../gql/graphql';
import { useDebounced } from '../lib/useDebounced';
import { MAX_QUERY_LENGTH } from '../search/params';

type Suggestion = ShopSuggestQuery['suggest'][number];

function destination(suggestion: Suggestion): string {
  if (suggestion.kind === 'PRODUCT' && suggestion.product) return `/p/${suggestion.product.slug}`;
  if (suggestion.kind === 'BRAND')
    return `/search?${new URLSearchParams({ brand: suggestion.text })}`;
  return `/search?${new URLSearchParams({ q: suggestion.text })}`;
}

/**
 * The header's search field: an ARIA combobox whose list comes from `suggest` as the shopper
 * types (arrow keys move through it, Enter opens the highlighted entry or searches, Escape
 * closes it).
 */
export function SearchBox() {
  const location = useLocation();
  const urlQuery =
    location.pathname === '/search' ? (new URLSearchParams(location.search).get('q') ?? '') : '';
  // a page with another query (or none) starts the field afresh
  return <SearchField key={urlQuery} initialText={urlQuery} />;
}

function SearchField({ initialText }: { initialText: string }) {
  const navigate = useNavigate();
  const listId = useId();
  const inputRef = useRef<HTMLInputElement>(null);
  const [text, setText] = useState(initialText);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);

  const prefix = useDebounced(text.trim(), 150);
  const { data } = useQuery(
    ShopSuggestDocument,
    open && prefix.length >= 2 ? { variables: { prefix: prefix.slice(0, 100) } } : skipToken,
  );
  const suggestions = open && prefix.length >= 2 ? (data?.suggest ?? []) : [];
  const expanded = suggestions.length > 0;

  function go(to: string) {
    setOpen(false);
    setActive(-1);
    inputRef.current?.blur();
    navigate(to);
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    if (active >= 0 && suggestions[active]) {
      go(destination(suggestions[active]));
      return;
    }
    const query = text.trim();
    go(query ? `/search?${new URLSearchParams({ q: query })}` : '/search');
  }

  function onKeyDown(event: KeyboardEvent<HTMLInputElement>) {
    if (event.key === 'ArrowDown') {
      event.preventDefault();
      setOpen(true);
      if (suggestions.length) setActive((active + 1) % suggestions.length);
    } else if (event.key === 'ArrowUp') {
      event.preventDefault();
      if (suggestions.length) setActive(active <= 0 ? suggestions.length - 1 : active - 1);
    } else if (event.key === 'Escape') {
      if (expanded) event.preventDefault();
      setOpen(false);
      setActive(-1);
    }
  }

  return (
    <form role="search" onSubmit={submit} className="relative flex w-full">
      <label htmlFor={`${listId}-input`} className="sr-only">
        Search Emporium
      </label>
      <input
        ref={inputRef}
        id={`${listId}-input`}
        type="search"
        role="combobox"
        aria-autocomplete="list"
        aria-expanded={expanded}
        aria-controls={listId}
        aria-activedescendant={expanded && active >= 0 ? `${listId}-${active}` : undefined}
        autoComplete="off"
        maxLength={MAX_QUERY_LENGTH}
        placeholder="Search products, brands and categories"
        value={text}
        onChange={(event) => {
          setText(event.target.value);
          setOpen(true);
          setActive(-1);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => setOpen(false)}
        onKeyDown={onKeyDown}
        className="h-11 w-full min-w-0 rounded-l-md border-0 bg-white px-4 text-slate-900 placeholder:text-slate-500 focus:ring-2 focus:ring-amber-500 focus:outline-none"
      />
      <button
        type="submit"
        className="h-11 rounded-r-md bg-amber-400 px-4 font-semibold text-slate-900 hover:bg-amber-500"
      >
        <span className="sr-only">Search</span>
        <svg aria-hidden="true" viewBox="0 0 20 20" className="h-5 w-5" fill="currentColor">
          <path
            fillRule="evenodd"
            d="M9 3.5a5.5 5.5 0 1 0 3.4 9.8l3.4 3.4a1 1 0 0 0 1.4-1.4l-3.4-3.4A5.5 5.5 0 0 0 9 3.5ZM5.5 9a3.5 3.5 0 1 1 7 0 3.5 3.5 0 0 1-7 0Z"
            clipRule="evenodd"
          />
        </svg>
      </button>
      {/* The ARIA combobox pattern: the input keeps focus and handles the keys; the list is
          the popup it controls. */}
      <div
        id={listId}
        role="listbox"
        aria-label="Suggestions"
        hidden={!expanded}
        className="absolute top-full right-0 left-0 z-40 mt-1 overflow-hidden rounded-md border border-slate-200 bg-white py-1 text-slate-900 shadow-lg"
      >
        {suggestions.map((suggestion, index) => (
          // options of an aria-activedescendant combobox: focus stays in the input, which
          // handles the keys
          // oxlint-disable-next-line jsx-a11y/click-events-have-key-events, jsx-a11y/interactive-supports-focus
          <div
            key={`${suggestion.kind}-${suggestion.text}-${index}`}
            id={`${listId}-${index}`}
            role="option"
            aria-selected={index === active}
            // keep the input focused: the click lands before blur closes the list
            onMouseDown={(event) => event.preventDefault()}
            onClick={() => go(destination(suggestion))}
            className={`flex cursor-pointer items-center justify-between px-4 py-2 text-sm ${
              index === active ? 'bg-amber-100' : 'hover:bg-slate-100'
            }`}
          >
            <span>{suggestion.text}</span>
            {suggestion.kind === 'BRAND' && <span className="text-xs text-slate-600">Brand</span>}
          </div>
        ))}
      </div>
    </form>
  );
}
