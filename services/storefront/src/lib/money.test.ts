import { describe, expect, it } from 'vitest';
import { amountText, parseAmount } from './money';

describe('amounts a seller types', () => {
  it('reads dollars and cents as minor units', () => {
    expect(parseAmount('12', 'USD')).toBe(1200);
    expect(parseAmount('12.5', 'USD')).toBe(1250);
    expect(parseAmount(' 1,299.99 ', 'USD')).toBe(129999);
    expect(parseAmount('0.07', 'USD')).toBe(7);
  });

  it('refuses what is no amount in the currency', () => {
    for (const text of ['', '12.345', '-3', '1e3', '12.3.4', 'ten']) {
      expect(parseAmount(text, 'USD')).toBeNull();
    }
    // yen have no minor unit
    expect(parseAmount('12.5', 'JPY')).toBeNull();
    expect(parseAmount('1200', 'JPY')).toBe(1200);
  });

  it('writes minor units back as an editable amount', () => {
    expect(amountText(129900, 'USD')).toBe('1299.00');
    expect(amountText(1200, 'JPY')).toBe('1200');
    expect(parseAmount(amountText(4321, 'USD'), 'USD')).toBe(4321);
  });
});
