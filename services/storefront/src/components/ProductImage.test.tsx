import { act, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { pictureSrcSet } from '../lib/pictures';
import { ProductImage } from './ProductImage';

const SRC = 'https://images.example.test/products/lamp/1.jpg?v=2';

// jsdom has no layout: the observer is driven by hand, as the browser would after a paint
let notify: ((entries: { isIntersecting: boolean }[]) => void) | null = null;

beforeEach(() => {
  vi.stubGlobal(
    'IntersectionObserver',
    class {
      constructor(callback: (entries: { isIntersecting: boolean }[]) => void) {
        notify = callback;
      }
      observe() {}
      disconnect() {}
    },
  );
});

afterEach(() => {
  vi.unstubAllGlobals();
  notify = null;
});

describe('product pictures', () => {
  it('asks the host for each width, keeping the picture’s own query', () => {
    const candidates = pictureSrcSet(SRC)!.split(', ');
    expect(candidates[0]).toBe(`${SRC}&w=160 160w`);
    expect(candidates.at(-1)).toBe(`${SRC}&w=1280 1280w`);
    expect(pictureSrcSet('/relative.jpg')).toBeUndefined();
  });

  it('draws a first-screen picture at once, with its candidates and slot size', () => {
    render(<ProductImage src={SRC} alt="Lamp" label="Lamp" slot="thumbnail" eager />);
    const img = screen.getByRole('img', { name: 'Lamp' });
    expect(img).toHaveAttribute('srcset', pictureSrcSet(SRC));
    expect(img).toHaveAttribute('sizes', '64px');
    expect(img).toHaveAttribute('loading', 'eager');
  });

  it('holds any other picture back until it comes near the viewport', () => {
    render(<ProductImage src={SRC} alt="Lamp" label="Lamp" slot="card" />);
    expect(screen.queryByRole('img')).not.toBeInTheDocument();
    act(() => notify!([{ isIntersecting: false }]));
    expect(screen.queryByRole('img')).not.toBeInTheDocument();
    act(() => notify!([{ isIntersecting: true }]));
    expect(screen.getByRole('img', { name: 'Lamp' })).toHaveAttribute('loading', 'lazy');
  });
});
