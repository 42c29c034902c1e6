// The merged GET stream on plain values: which backends it opens, how it interleaves, resumes, reconnects and ends.
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../src/pipeline/fanout/event-cursor.js';
import type { EgressFailure, StreamSuccess } from '../../src/pipeline/fanout/egress.js';
import { mergedEvent, startMerge, type MergeSettings, type MergeSource } from '../../src/pipeline/fanout/merged-stream.js';
import { createSseParser, type SseEvent } from '../../src/pipeline/fanout/sse.js';
import { toClientMessage } from '../../src/pipeline/extproc/reply-ids.js';
import { eventually } from '../harness/eventually.js';

const FAST: MergeSettings = { keepAliveMs: 60_000, retryMs: 5, maxRetryMs: 20, maxAttempts: 3, maxEventBytes: 1024 };

/** A backend stream the test writes to and ends. */
class FakeStream {
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  cancelled = false;
  readonly body = new ReadableStream<Uint8Array>({
    start: (c) => { this.controller = c; },
    cancel: () => { this.cancelled = true; },
  });
  write(text: string): void { this.controller.enqueue(Buffer.from(text)); }
  end(): void { this.controller.close(); }
  success(): StreamSuccess { return { ok: true, status: 200, body: this.body }; }
}

const refused = (backend: string, status: number): EgressFailure => ({ ok: false, backend, error: 'http-status', status, detail: `HTTP ${status}` });
const expired = (backend: string): EgressFailure => ({ ok: false, backend, error: 'session-expired', status: 404, detail: 'gone' });

interface Harness {
  readonly source: MergeSource;
  readonly opens: Array<{ backend: string; lastEventId: string | undefined }>;
  readonly gone: string[];
}

/** Each backend answers its opens in turn from `answers` (the last one repeats). */
function harness(answers: Record<string, Array<() => StreamSuccess | EgressFailure>>): Harness {
  const opens: Harness['opens'] = [];
  const gone: string[] = [];
  const count = new Map<string, number>();
  const source: MergeSource = {
    backends: Object.keys(answers),
    async open(backend, lastEventId) {
      opens.push({ backend, lastEventId });
      const list = answers[backend] ?? [];
      const n = count.get(backend) ?? 0;
      count.set(backend, n + 1);
      return (list[Math.min(n, list.length - 1)] as () => StreamSuccess | EgressFailure)();
    },
    rewrite: (backend) => (message) => toClientMessage(message, (id) => `${backend}:${JSON.stringify(id)}`),
    gone: (backend) => { gone.push(backend); },
  };
  return { source, opens, gone };
}

function collector() {
  const parser = createSseParser();
  const events: SseEvent[] = [];
  const raw: string[] = [];
  return { events, raw, sink: { write: (b: Buffer) => { raw.push(b.toString()); events.push(...parser.push(b)); } } };
}

const until = (probe: () => boolean): Promise<void> => eventually(probe, 'the merged stream to catch up', 1_000, 2);

describe('startMerge: opening', () => {
  it.each<[string, Array<StreamSuccess | EgressFailure>, number]>([
    ['every backend answers 405', [refused('a', 405), refused('b', 405)], 405],
    ['a backend no longer knows the session', [refused('a', 405), expired('b')], 404],
    ['the session already has a stream', [refused('a', 409), refused('b', 409)], 409],
    ['the backends fail otherwise', [refused('a', 503), refused('b', 500)], 502],
  ])('is refused when %s', async (_name, results, status) => {
    const h = harness({ a: [() => results[0] as EgressFailure], b: [() => results[1] as EgressFailure] });
    const start = await startMerge(h.source, undefined, new AbortController().signal, FAST);
    expect(start).toMatchObject({ kind: 'refused', status });
  });

  it('leaves out a backend that answers 405 and serves the others', async () => {
    const a = new FakeStream();
    const h = harness({ a: [() => a.success()], b: [() => refused('b', 405)] });
    const controller = new AbortController();
    const start = await startMerge(h.source, undefined, controller.signal, FAST);
    expect(start.kind).toBe('open');
    expect(h.gone).toEqual(['b']);
    const out = collector();
    const run = start.kind === 'open' ? start.run(out.sink, controller.signal) : undefined;
    a.write('data: {"jsonrpc":"2.0","method":"notifications/message","params":{"data":"x"}}\n\n');
    await until(() => out.events.length === 1);
    controller.abort();
    await run;
    expect(h.opens.filter((o) => o.backend === 'b')).toHaveLength(1);
    expect(a.cancelled).toBe(true);
  });

  it('resumes the backends a merged cursor names and opens the others fresh', async () => {
    const h = harness({ a: [() => new FakeStream().success()], b: [() => new FakeStream().success()], c: [() => new FakeStream().success()] });
    const cursor = encodeCursor({ kind: 'merged', ids: new Map([['a', 'a-7'], ['c', 'c-1'], ['elsewhere', 'x']]) });
    const controller = new AbortController();
    await startMerge(h.source, cursor, controller.signal, FAST);
    expect(h.opens).toEqual([{ backend: 'a', lastEventId: 'a-7' }, { backend: 'b', lastEventId: undefined }, { backend: 'c', lastEventId: 'c-1' }]);
    controller.abort();
  });

  it('resumes only the backend of a call\'s cursor', async () => {
    const h = harness({ a: [() => new FakeStream().success()], b: [() => new FakeStream().success()] });
    await startMerge(h.source, encodeCursor({ kind: 'request', ids: new Map([['b', 'b-3']]) }), new AbortController().signal, FAST);
    expect(h.opens).toEqual([{ backend: 'b', lastEventId: 'b-3' }]);
  });

  it.each(['not-ours', 'tgm.%%%', 'tgm.' + Buffer.from('[1]').toString('base64url'), 'tgr.' + Buffer.from('{"a":1}').toString('base64url')])(
    'opens every backend fresh for a Last-Event-ID it did not issue: %s',
    async (id) => {
      const h = harness({ a: [() => new FakeStream().success()], b: [() => new FakeStream().success()] });
      await startMerge(h.source, id, new AbortController().signal, FAST);
      expect(h.opens).toEqual([{ backend: 'a', lastEventId: undefined }, { backend: 'b', lastEventId: undefined }]);
    },
  );
});

describe('startMerge: running', () => {
  it('interleaves whole events, rewrites server request ids, and ids every event with all backends\' last ids', async () => {
    const a = new FakeStream();
    const b = new FakeStream();
    const h = harness({ a: [() => a.success()], b: [() => b.success()] });
    const controller = new AbortController();
    const start = await startMerge(h.source, undefined, controller.signal, FAST);
    const out = collector();
    const run = start.kind === 'open' ? start.run(out.sink, controller.signal) : undefined;
    a.write('id: a-1\ndata: {"jsonrpc":"2.0","id":0,"meth');
    b.write('id: b-1\ndata: {"jsonrpc":"2.0","id":0,"method":"roots/list"}\n\n');
    await until(() => out.events.length === 1);
    a.write('od":"sampling/createMessage"}\n\n: comment\n\n');
    await until(() => out.events.length === 2);
    expect(out.events.map((e) => JSON.parse(e.data).id)).toEqual(['b:0', 'a:0']);
    expect(decodeCursor(out.events[0]?.id)?.ids).toEqual(new Map([['b', 'b-1']]));
    expect(decodeCursor(out.events[1]?.id)?.ids).toEqual(new Map([['b', 'b-1'], ['a', 'a-1']]));
    // Comments of the backends are not forwarded (toolgate sends its own keep-alives).
    expect(out.raw.join('')).not.toContain('comment');
    controller.abort();
    await run;
    expect(a.cancelled && b.cancelled).toBe(true);
  });

  it('reopens a backend stream that ended, after its last event id and its retry delay, and ends when all are gone', async () => {
    const first = new FakeStream();
    const second = new FakeStream();
    const h = harness({ a: [() => first.success(), () => second.success(), () => expired('a')], b: [() => refused('b', 405)] });
    const controller = new AbortController();
    const start = await startMerge(h.source, undefined, controller.signal, FAST);
    const out = collector();
    const run = start.kind === 'open' ? start.run(out.sink, controller.signal) : undefined;
    first.write('id: a-1\nretry: 1\ndata: {"n":1}\n\n');
    first.end();
    await until(() => h.opens.filter((o) => o.backend === 'a').length === 2);
    expect(h.opens.at(-1)).toEqual({ backend: 'a', lastEventId: 'a-1' });
    second.write('data: {"n":2}\n\n');
    await until(() => out.events.length === 2);
    second.end();
    // 404 on reopen is not retried again: the session is gone there; with no backend left the stream ends.
    await run;
    expect(h.opens.filter((o) => o.backend === 'a')).toHaveLength(3);
    expect(h.gone).toEqual(['b', 'a']);
  });

  it('gives up on a backend after too many failed reopens', async () => {
    const first = new FakeStream();
    const h = harness({ a: [() => first.success(), () => refused('a', 503)] });
    const controller = new AbortController();
    const start = await startMerge(h.source, undefined, controller.signal, FAST);
    const run = start.kind === 'open' ? start.run(collector().sink, controller.signal) : undefined;
    first.end();
    await run;
    expect(h.opens).toHaveLength(1 + FAST.maxAttempts);
    expect(h.gone).toEqual(['a']);
  });

  it('drops a backend whose event outgrows the cap instead of holding it', async () => {
    const a = new FakeStream();
    const h = harness({ a: [() => a.success()] });
    const controller = new AbortController();
    const start = await startMerge(h.source, undefined, controller.signal, FAST);
    const run = start.kind === 'open' ? start.run(collector().sink, controller.signal) : undefined;
    a.write(`data: ${'x'.repeat(2 * FAST.maxEventBytes)}`);
    await run;
    expect(h.gone).toEqual(['a']);
    expect(a.cancelled).toBe(true);
  });

  it('ends a call\'s resumed stream when the backend ends it', async () => {
    const b = new FakeStream();
    const h = harness({ b: [() => b.success()] });
    const controller = new AbortController();
    const start = await startMerge(h.source, encodeCursor({ kind: 'request', ids: new Map([['b', 'b-1']]) }), controller.signal, FAST);
    const out = collector();
    const run = start.kind === 'open' ? start.run(out.sink, controller.signal) : undefined;
    b.write('id: b-2\ndata: {"jsonrpc":"2.0","id":"x","result":{}}\n\n');
    b.end();
    await run;
    expect(h.opens).toHaveLength(1);
    expect(decodeCursor(out.events[0]?.id)).toEqual({ kind: 'request', ids: new Map([['b', 'b-2']]) });
  });
});

describe('mergedEvent', () => {
  const cursor = () => ({ kind: 'merged' as const, ids: new Map<string, string>() });
  const none = () => undefined;
  it.each<[string, string, string | undefined]>([
    ['a comment only', ': ping\n\n', undefined],
    ['a priming event (id, empty data)', 'id: p\ndata: \n\n', `id: ${encodeCursor({ kind: 'merged', ids: new Map([['a', 'p']]) })}\ndata: \n\n`],
    ['multi-line non-JSON data', 'data: one\ndata: two\n\n', 'data: one\ndata: two\n\n'],
    ['a custom event type', 'event: other\ndata: {"id":1,"method":"x"}\n\n', 'event: other\ndata: {"id":1,"method":"x"}\n\n'],
    ['a retry field', 'retry: 250\n\n', 'retry: 250\n\n'],
  ])('passes %s as the client should see it', (_name, block, expected) => {
    expect(mergedEvent('a', Buffer.from(block), cursor(), none).bytes?.toString()).toBe(expected);
  });

  it('forgets a backend\'s last id when it sends an empty id', () => {
    const c = cursor();
    mergedEvent('a', Buffer.from('id: a-1\ndata: x\n\n'), c, none);
    mergedEvent('a', Buffer.from('id\ndata: y\n\n'), c, none);
    expect(c.ids.size).toBe(0);
  });
});
