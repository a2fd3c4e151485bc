import { describe, expect, it } from 'vitest';
import { parseSse } from './live';

describe('server-sent events', () => {
  it('splits complete events and keeps an unfinished one for the next chunk', () => {
    const first = parseSse('event: next\ndata: {"a":1}\n\nevent: next\ndata: {"a"');
    expect(first.events).toEqual([{ event: 'next', data: '{"a":1}' }]);
    const second = parseSse(`${first.rest}:2}\n\n`);
    expect(second.events).toEqual([{ event: 'next', data: '{"a":2}' }]);
    expect(second.rest).toBe('');
  });

  it('skips keep-alive comments, joins multi-line data and reads CRLF streams', () => {
    const { events } = parseSse(
      ':\r\n\r\nevent: next\r\ndata: one\r\ndata: two\r\n\r\nevent: complete\r\n\r\n',
    );
    expect(events).toEqual([
      { event: 'next', data: 'one\ntwo' },
      { event: 'complete', data: '' },
    ]);
  });
});
