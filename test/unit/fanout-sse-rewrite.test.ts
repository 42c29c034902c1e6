// SSE events rewritten as the stream passes: every chunk boundary, every line ending, nothing but the request ids changed.
import { describe, expect, it } from 'vitest';
import { createSseFramer } from '../../src/pipeline/fanout/sse-frames.js';
import { createSseRewriter, eventFields, rewriteEvent, type MessageRewrite } from '../../src/pipeline/fanout/sse-rewrite.js';
import { createSseParser, type SseEvent } from '../../src/pipeline/fanout/sse.js';
import { toClientMessage } from '../../src/pipeline/extproc/reply-ids.js';

const rewriteIds: MessageRewrite = (message) => toClientMessage(message, (id) => `billing:tag:${JSON.stringify(id)}`);

const request = (id: number | string, method = 'sampling/createMessage') => JSON.stringify({ jsonrpc: '2.0', id, method, params: { maxTokens: 8 } });
const progress = (n: number) => JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 't', progress: n, message: 'étape → 🎉' } });
const result = JSON.stringify({ result: { content: [{ type: 'text', text: 'the "method" is "id"' }] }, jsonrpc: '2.0', id: 1 });

/** Streams as backends write them, with what the client must see after the rewrite (as parsed events). */
const STREAMS: Array<[string, string]> = [
  ['progress, a request, the result (LF)', `event: message\ndata: ${progress(1)}\n\nevent: message\ndata: ${request(0)}\n\nevent: message\ndata: ${result}\n\n`],
  ['CRLF line ends with ids', `id: e1\r\ndata: ${request('s-1', 'roots/list')}\r\n\r\nid: e2\r\ndata: ${result}\r\n\r\n`],
  ['bare CR line ends', `data: ${request(5)}\r\rdata: ${progress(2)}\r\r`],
  ['comments, retry and a priming event', `: keep-alive\n\nid: p0\nretry: 500\n\n: note\ndata: ${request(7, 'elicitation/create')}\n\n`],
  ['a cancellation and an unterminated tail', `data: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7 } })}\n\ndata: ${request(8)}\n`],
  ['data split over several lines', `data: {"jsonrpc":"2.0",\ndata: "id":3,"method":"roots/list"}\n\n`],
  ['a custom event type (left alone)', `event: other\ndata: ${request(9)}\n\n`],
];

const parse = (bytes: Uint8Array | string): SseEvent[] => {
  const parser = createSseParser();
  return [...parser.push(bytes), ...parser.end()];
};

/** What a client should parse: the original events with request ids (of `message` events) rewritten. */
const expected = (stream: string): SseEvent[] => parse(stream).map((e) => {
  if (e.event !== 'message') return e;
  try {
    const changed = rewriteIds(JSON.parse(e.data));
    return changed ? { ...e, data: JSON.stringify(changed) } : e;
  } catch {
    return e;
  }
});

const run = (chunks: readonly Uint8Array[]): Buffer => {
  const rewriter = createSseRewriter(rewriteIds);
  return Buffer.concat([...chunks.map((c) => rewriter.push(c)), rewriter.end()]);
};

describe('SSE rewriter', () => {
  it.each(STREAMS)('rewrites %s in one chunk', (_name, stream) => {
    expect(parse(run([Buffer.from(stream)]))).toEqual(expected(stream));
  });

  it.each(STREAMS)('gives the same bytes for %s split at every byte boundary', (_name, stream) => {
    const bytes = Buffer.from(stream);
    const whole = run([bytes]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(run([bytes.subarray(0, cut), bytes.subarray(cut)]).equals(whole), `cut at byte ${cut}`).toBe(true);
    }
  });

  it.each(STREAMS)('gives the same events for %s split at every pair of boundaries', (_name, stream) => {
    const bytes = Buffer.from(stream);
    const want = expected(stream);
    for (let a = 0; a <= bytes.length; a += 3) {
      for (let b = a; b <= bytes.length; b += 5) {
        expect(parse(run([bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)])), `cuts at ${a}, ${b}`).toEqual(want);
      }
    }
  });

  it.each(STREAMS)('gives the same events for %s fed one byte at a time', (_name, stream) => {
    const bytes = Buffer.from(stream);
    expect(parse(run([...bytes].map((b) => Uint8Array.of(b))))).toEqual(expected(stream));
  });

  it('passes events that need no rewrite byte for byte, and holds nothing back once an event is complete', () => {
    const rewriter = createSseRewriter(rewriteIds);
    const first = `id: 1\r\nevent: message\r\ndata: ${progress(1)}\r\n\r\n`;
    expect(rewriter.push(Buffer.from(first)).toString()).toBe(first);
    expect(rewriter.push(Buffer.from(`data: ${progress(2)}\n`)).length).toBe(0);
    expect(rewriter.push(Buffer.from('\n')).toString()).toBe(`data: ${progress(2)}\n\n`);
    expect(rewriter.end().length).toBe(0);
  });

  it('keeps the other fields of a rewritten event, in order', () => {
    const out = rewriteEvent(Buffer.from(`: c\nid: 9\nevent: message\nretry: 10\ndata: ${request(0)}\n\n`), rewriteIds);
    expect(out?.toString()).toBe(`: c\nid: 9\nevent: message\nretry: 10\ndata: ${JSON.stringify(rewriteIds(JSON.parse(request(0))))}\n\n`);
  });

  it('passes an event larger than the cap through unread, then reads the next one again', () => {
    const big = `data: ${request(1)}${' '.repeat(200)}\n\n`;
    expect(Buffer.byteLength(`data: ${request(2)}\n\n`)).toBeLessThan(120);
    const rewriter = createSseRewriter(rewriteIds, 120);
    const bytes = Buffer.from(`${big}data: ${request(2)}\n\n`);
    const out = Buffer.concat([...[...bytes].map((b) => rewriter.push(Uint8Array.of(b))), rewriter.end()]).toString();
    expect(out.startsWith(big)).toBe(true);
    expect(parse(out).map((e) => JSON.parse(e.data).id)).toEqual([1, 'billing:tag:2']);
  });
});

describe('SSE framer', () => {
  it('cuts after the blank line, keeping CRLF pairs whole when they arrive together', () => {
    const framer = createSseFramer();
    const pieces = framer.push(Buffer.from('data: a\r\n\r\ndata: b\n\ndata: c'));
    expect(pieces.map((p) => [p.bytes.toString(), p.event])).toEqual([['data: a\r\n\r\n', true], ['data: b\n\n', true]]);
    expect(framer.end().map((p) => [p.bytes.toString(), p.event])).toEqual([['data: c', false]]);
  });

  it('reads the fields of an event as the WHATWG parser does', () => {
    expect(eventFields('data\nid: 1\ndata:x\ndata:  y\n\n')).toEqual({ other: ['id: 1'], data: '\nx\n y' });
  });
});

describe('responses on a call\'s stream', () => {
  const response = JSON.stringify({ result: { content: [{ type: 'text', text: 'x'.repeat(300) }] }, jsonrpc: '2.0', id: 1 });
  const rewriteEventIds = (id: string) => `tgr.${id}`;

  it('passes a response as it arrives once its first key says so, and notes it only when it is whole', () => {
    const rewriter = createSseRewriter(rewriteIds, 1024, rewriteEventIds);
    const bytes = Buffer.from(`id: e9\ndata: ${response}\n\n`);
    const first = rewriter.push(bytes.subarray(0, 40));
    expect(first.toString()).toBe(bytes.subarray(0, 40).toString());
    expect(rewriter.holding()).toBe(false);
    expect(rewriter.responseSeen()).toBe(false);
    const rest = rewriter.push(bytes.subarray(40));
    expect(Buffer.concat([first, rest]).equals(bytes)).toBe(true);
    expect(rewriter.responseSeen()).toBe(true);
  });

  it('holds an event whose first key does not say, and rewrites the ids of everything but responses', () => {
    const rewriter = createSseRewriter(rewriteIds, 1024, rewriteEventIds);
    expect(rewriter.push(Buffer.from(`id: e1\ndata: {"jsonrpc":"2.0","id":0,`)).length).toBe(0);
    expect(rewriter.holding()).toBe(true);
    const request = rewriter.push(Buffer.from('"method":"roots/list"}\n\n'));
    expect(request.toString()).toBe('id: tgr.e1\ndata: {"jsonrpc":"2.0","id":"billing:tag:0","method":"roots/list"}\n\n');
    const whole = `id: e2\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n`;
    expect(rewriter.push(Buffer.from(whole)).toString()).toBe(whole);
    expect(rewriter.responseSeen()).toBe(true);
  });
});
