import { useState } from 'react';

const TINTS = [
  'from-amber-100 to-orange-200',
  'from-sky-100 to-indigo-200',
  'from-emerald-100 to-teal-200',
  'from-rose-100 to-pink-200',
  'from-violet-100 to-purple-200',
  'from-slate-100 to-slate-300',
];

function tintFor(text: string): string {
  let hash = 0;
  for (const char of text) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return TINTS[hash % TINTS.length];
}

interface Props {
  src: string | undefined;
  alt: string;
  /** what the placeholder shows when there is no picture (the product's name) */
  label: string;
  className?: string;
  eager?: boolean;
}

/**
 * A product picture in a fixed-ratio box (no layout shift), or a tinted placeholder with the
 * product's initials when the product has none or it cannot be loaded.
 */
export function ProductImage({ src, alt, label, className = '', eager = false }: Props) {
  const [failed, setFailed] = useState(false);
  if (!src || failed) {
    const initials = label
      .split(/\s+/)
      .slice(0, 2)
      .map((word) => word[0]?.toUpperCase() ?? '')
      .join('');
    // an empty alt marks a decorative picture (a thumbnail beside its labelled button)
    const described = alt ? { role: 'img', 'aria-label': alt } : { 'aria-hidden': true };
    return (
      <div
        {...described}
        className={`flex items-center justify-center bg-gradient-to-br ${tintFor(label)} ${className}`}
      >
        <span aria-hidden="true" className="text-3xl font-semibold text-slate-700/70">
          {initials}
        </span>
      </div>
    );
  }
  return (
    <img
      src={src}
      alt={alt}
      loading={eager ? 'eager' : 'lazy'}
      fetchPriority={eager ? 'high' : 'auto'}
      decoding="async"
      onError={() => setFailed(true)}
      className={`object-cover ${className}`}
    />
  );
}
