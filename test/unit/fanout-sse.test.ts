import { describe, expect, it } from 'vitest';
import { createSseParser, type SseEvent } from '../../src/pipeline/fanout/sse.js';

const parseAll = (chunks: ReadonlyArray<string | Uint8Array>): SseEvent[] => {
  const parser = createSseParser();
  const events = chunks.flatMap((c) => parser.push(c));
  return [...events, ...parser.end()];
};

const ev = (data: string, extra: Partial<SseEvent> = {}): SseEvent => ({ event: 'message', data, id: undefined, retry: undefined, ...extra });

const STREAMS: Array<[string, string, SseEvent[]]> = [
  ['one LF event', 'data: {"a":1}\n\n', [ev('{"a":1}')]],
  ['CRLF line ends', 'data: x\r\n\r\ndata: y\r\n\r\n', [ev('x'), ev('y')]],
  ['bare CR line ends', 'data: x\r\rdata: y\r\r', [ev('x'), ev('y')]],
  ['multi-line data joined with LF', 'data: a\ndata:b\ndata:  c\n\n', [ev('a\nb\n c')]],
  ['comments and keep-alives', ': ping\n\n:another\ndata: z\n\n', [ev('z')]],
  ['event type, id and retry', 'event: note\nid: 7\nretry: 1500\ndata: q\n\n', [ev('q', { event: 'note', id: '7', retry: 1500 })]],
  ['an id that persists to later events', 'id: e1\ndata:\n\ndata: n\n\n', [ev('', { id: 'e1' }), ev('n', { id: 'e1' })]],
  ['a priming event with no data line', 'id: p0\n\ndata: after\n\n', [ev('after', { id: 'p0' })]],
  ['a field with no colon and unknown fields', 'data\nfoo: bar\n\n', [ev('')]],
  ['a leading BOM', '\uFEFFdata: b\n\n', [ev('b')]],
  ['multi-byte UTF-8', 'data: {"t":"héllo → 世界 🎉"}\n\n', [ev('{"t":"héllo → 世界 🎉"}')]],
  ['an unterminated last event (discarded)', 'data: done\n\ndata: partial\n', [ev('done')]],
  ['an invalid retry (ignored)', 'retry: 1s\ndata: r\n\n', [ev('r')]],
];

describe('SSE parser', () => {
  it.each(STREAMS)('parses %s in one chunk', (_name, stream, expected) => {
    expect(parseAll([stream])).toEqual(expected);
  });

  it.each(STREAMS)('gives the same events for %s split at every byte boundary', (_name, stream, expected) => {
    const bytes = new TextEncoder().encode(stream);
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(parseAll([bytes.subarray(0, cut), bytes.subarray(cut)]), `cut at byte ${cut}`).toEqual(expected);
    }
  });

  it.each(STREAMS)('gives the same events for %s fed one byte at a time', (_name, stream, expected) => {
    const bytes = new TextEncoder().encode(stream);
    expect(parseAll([...bytes].map((b) => Uint8Array.of(b)))).toEqual(expected);
  });

  it.each(STREAMS.filter(([, s]) => !/[^\x00-\x7f]/.test(s)))('gives the same events for %s as string chunks split at every char', (_name, stream, expected) => {
    for (let cut = 0; cut <= stream.length; cut++) {
      expect(parseAll([stream.slice(0, cut), stream.slice(cut)]), `cut at char ${cut}`).toEqual(expected);
    }
  });

  it('returns events as soon as their blank line arrives', () => {
    const parser = createSseParser();
    expect(parser.push('data: 1\n')).toEqual([]);
    expect(parser.push('\ndata: 2')).toEqual([ev('1')]);
    expect(parser.push('\n\n')).toEqual([ev('2')]);
  });
});
