// The client's one GET event stream in gateway mode: every backend's standalone stream, interleaved event by event.
import { decodeCursor, encodeCursor, type CursorKind, type EventCursor } from './event-cursor.js';
import type { EgressFailure, StreamSuccess } from './egress.js';
import { createSseFramer } from './sse-frames.js';
import { eventFields, eventType, type MessageRewrite } from './sse-rewrite.js';
import { REASONS, type ReasonCode } from '../../core/mcp/reply-table.js';

export interface MergeSettings {
  /** A comment line this often keeps idle-timeouts on the client's path from cutting a quiet stream. */
  readonly keepAliveMs: number;
  /** First delay before reopening a backend stream that ended; doubled per failed attempt up to `maxRetryMs`. */
  readonly retryMs: number;
  readonly maxRetryMs: number;
  /** Failed reopen attempts in a row before a backend is left out for the rest of the stream. */
  readonly maxAttempts: number;
  /** A backend event larger than this ends that backend's part of the stream (toolgate holds one event per backend). */
  readonly maxEventBytes: number;
}

export const MERGE_DEFAULTS: MergeSettings = Object.freeze({ keepAliveMs: 15_000, retryMs: 500, maxRetryMs: 8_000, maxAttempts: 5, maxEventBytes: 64 * 1024 * 1024 });

export interface MergeSource {
  /** The session's backends, in a stable order. */
  readonly backends: readonly string[];
  open(backend: string, lastEventId: string | undefined, signal: AbortSignal): Promise<StreamSuccess | EgressFailure>;
  /** Server request ids → the gateway's form, per backend. */
  rewrite(backend: string): MessageRewrite;
  /** A backend left the stream for good (its GET refused, or too many failed reopens). */
  gone?(backend: string, why: string): void;
}

export interface MergedSink {
  write(bytes: Buffer): void;
}

export type MergeStart =
  | { readonly kind: 'open'; run(sink: MergedSink, signal: AbortSignal): Promise<void> }
  | { readonly kind: 'refused'; readonly reason: ReasonCode; readonly status: number; readonly message: string };

/**
 * Opens each backend's stream the `Last-Event-ID` asks for: a merged cursor resumes the backends it names and
 * opens the others fresh; a call's cursor resumes that one backend's stream; anything else opens all fresh.
 * Refused only when no backend offers a stream.
 */
export async function startMerge(source: MergeSource, lastEventId: string | undefined, signal: AbortSignal, settings: MergeSettings = MERGE_DEFAULTS): Promise<MergeStart> {
  const given = decodeCursor(lastEventId);
  const kind: CursorKind = given?.kind ?? 'merged';
  const wanted = source.backends.filter((b) => kind === 'merged' || given?.ids.has(b));
  const ids = new Map([...(given?.ids ?? [])].filter(([b]) => wanted.includes(b)));
  const controllers = new Map(wanted.map((b) => [b, linkedController(signal)]));
  const opened = await Promise.all(wanted.map((b) => source.open(b, ids.get(b), (controllers.get(b) as AbortController).signal)));
  const live = wanted.flatMap((b, i) => {
    const result = opened[i] as StreamSuccess | EgressFailure;
    if (result.ok) return [[b, result] as const];
    source.gone?.(b, result.detail);
    return [];
  });
  if (live.length === 0) return refusal(opened.filter((r): r is EgressFailure => !r.ok));
  return {
    kind: 'open',
    async run(sink, runSignal) {
      const cursor = { kind, ids };
      const keepAlive = setInterval(() => sink.write(KEEP_ALIVE), settings.keepAliveMs);
      try {
        await Promise.all(live.map(([b, first]) => follow(b, first, controllers.get(b) as AbortController)));
      } finally {
        clearInterval(keepAlive);
        for (const c of controllers.values()) c.abort();
      }

      /** One backend's part: pump its stream, reopen it after the last event id it sent when it ends. */
      async function follow(backend: string, first: StreamSuccess, initial: AbortController): Promise<void> {
        let stream: StreamSuccess | EgressFailure = first;
        let controller = initial;
        let failures = 0;
        let retryMs: number | undefined;
        for (;;) {
          if (stream.ok) {
            failures = 0;
            const ended = await pump(backend, stream, controller.signal, cursor, source.rewrite(backend), sink, settings.maxEventBytes);
            controller.abort();
            retryMs = ended.retryMs ?? retryMs;
            if (ended.tooLarge) return source.gone?.(backend, `an event over ${settings.maxEventBytes} bytes`);
            // A call's stream ends with its response; only the standalone stream is kept open.
            if (kind === 'request') return;
          } else if (stream.error === 'session-expired' || stream.status === 404 || stream.status === 405 || ++failures >= settings.maxAttempts) {
            return source.gone?.(backend, stream.detail);
          }
          if (runSignal.aborted || signal.aborted) return;
          const delay = retryMs ?? Math.min(settings.retryMs * 2 ** failures, settings.maxRetryMs);
          if (!(await sleep(delay, runSignal))) return;
          controller = linkedController(signal);
          stream = await source.open(backend, cursor.ids.get(backend), controller.signal);
        }
      }
    },
  };
}

const KEEP_ALIVE = Buffer.from(': keep-alive\n\n');

/** Reads one backend stream to its end, writing each whole event as soon as it is complete. */
async function pump(backend: string, stream: StreamSuccess, signal: AbortSignal, cursor: { kind: CursorKind; ids: Map<string, string> }, rewrite: MessageRewrite, sink: MergedSink, maxEventBytes: number): Promise<{ retryMs?: number; tooLarge?: boolean }> {
  const framer = createSseFramer(maxEventBytes);
  const reader = stream.body.getReader();
  // The client left: a read that waits for the backend's next event must not outlive it.
  const stop = () => { reader.cancel().catch(() => undefined); };
  signal.addEventListener('abort', stop, { once: true });
  let retryMs: number | undefined;
  try {
    if (signal.aborted) return { retryMs };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { retryMs };
      for (const piece of framer.push(value)) {
        if (piece.continuation) continue;
        if (!piece.event) return { retryMs, tooLarge: true };
        const out = mergedEvent(backend, piece.bytes, cursor, rewrite);
        if (out.retryMs !== undefined) retryMs = out.retryMs;
        if (out.bytes) sink.write(out.bytes);
      }
    }
  } catch {
    return { retryMs }; // the backend or Envoy cut the stream: reopened like an ended one
  } finally {
    signal.removeEventListener('abort', stop);
    await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/**
 * One backend event as the client gets it: its message with server request ids rewritten, and — when it carried
 * an id — the stream's cursor (every backend's last event id) as its id, so `Last-Event-ID` resumes them all.
 */
export function mergedEvent(backend: string, block: Buffer, cursor: { kind: CursorKind; ids: Map<string, string> }, rewrite: MessageRewrite): { bytes?: Buffer; retryMs?: number } {
  const { other, data } = eventFields(block);
  const lines: string[] = [];
  const type = eventType(other);
  if (type !== '') lines.push(`event: ${type}`);
  let retryMs: number | undefined;
  for (const line of other) {
    const [field, value] = splitField(line);
    if (field === 'id' && !value.includes('\0')) {
      if (value === '') cursor.ids.delete(backend);
      else cursor.ids.set(backend, value);
      lines.push(`id: ${encodeCursor(cursor as EventCursor)}`);
    } else if (field === 'retry' && /^\d+$/.test(value)) {
      retryMs = Number(value);
      lines.push(`retry: ${value}`);
    }
  }
  if (data !== undefined) {
    let message = data;
    if (type === '' || type === 'message') {
      try {
        const changed = rewrite(JSON.parse(data));
        if (changed) message = JSON.stringify(changed);
      } catch {
        // not JSON: passed on as it came
      }
    }
    for (const part of message.split('\n')) lines.push(`data: ${part}`);
  }
  if (lines.length === 0 || (lines.length === 1 && type !== '')) return { retryMs };
  return { bytes: Buffer.from(`${lines.join('\n')}\n\n`, 'utf8'), retryMs };
}

function splitField(line: string): [string, string] {
  const colon = line.indexOf(':');
  if (colon === -1) return [line, ''];
  const value = line.slice(colon + 1);
  return [line.slice(0, colon), value.startsWith(' ') ? value.slice(1) : value];
}

function refusal(failures: readonly EgressFailure[]): MergeStart {
  const statuses = failures.map((f) => (f.error === 'session-expired' ? 404 : f.status));
  if (statuses.includes(404)) return refused('session-not-found', 'Session not found or expired. Start a new session with initialize.');
  if (statuses.length > 0 && statuses.every((s) => s === 405)) return refused('http-method-not-allowed', 'No backend of this session offers a GET event stream; server messages arrive on POST responses.');
  if (statuses.includes(409)) return refused('events-stream-open', 'This session already has an open GET event stream.');
  if (failures.length === 0) return refused('last-event-id-invalid', 'The Last-Event-ID names no backend of this session.');
  return refused('backend-unavailable', `No backend event stream could be opened (${failures.map((f) => `${f.backend}: ${f.detail}`).join('; ')}). Try again later.`);
}

function refused(reason: ReasonCode, message: string): MergeStart {
  return { kind: 'refused', reason, status: REASONS[reason].http, message };
}

function linkedController(parent: AbortSignal): AbortController {
  const controller = new AbortController();
  if (parent.aborted) controller.abort();
  else parent.addEventListener('abort', () => controller.abort(), { once: true, signal: controller.signal });
  return controller;
}

/** False when `signal` aborted first. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const done = (ok: boolean) => { clearTimeout(timer); signal.removeEventListener('abort', onAbort); resolve(ok); };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
