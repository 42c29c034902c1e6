// Rewrites the JSON-RPC message of selected events in a passing text/event-stream; every other byte goes on unchanged.
import { createSseFramer, MAX_HELD_EVENT_BYTES } from './sse-frames.js';

/** Returns the message to send instead, or undefined to leave the event byte for byte as it was. */
export type MessageRewrite = (message: unknown) => Record<string, unknown> | undefined;

/** The event id the client should see for one the backend sent. */
export type IdRewrite = (id: string) => string;

export interface SseRewriter {
  /** The bytes that can go on after this chunk (possibly none: an event is held until its blank line). */
  push(chunk: Uint8Array): Buffer;
  /** Everything still held, at the end of the stream. */
  end(): Buffer;
  /** A JSON-RPC response has gone by whole: on a call's stream, nothing of the call comes after it. */
  responseSeen(): boolean;
  /** Bytes of an unfinished event are held. */
  holding(): boolean;
}

const EMPTY = Buffer.alloc(0);

/**
 * `rewriteResponse`, when given, rewrites the stream's JSON-RPC response too (a routed task request's answer names its
 * task); the response is then held to its end like any rewritten event. Without it a response passes untouched.
 */
export function createSseRewriter(rewrite: MessageRewrite, maxHeld = MAX_HELD_EVENT_BYTES, rewriteId?: IdRewrite, rewriteResponse?: MessageRewrite): SseRewriter {
  // A response is not rewritten unless asked, so it passes as it arrives once its first key says what it is: a large
  // tool result is not held, and the stream's last chunk usually needs no change (see gateway-server-requests.ts).
  let passingResponse = false;
  let responseSeen = false;
  const framer = createSseFramer(maxHeld, (head) => {
    const kind = leadingKind(head);
    if (kind === 'response') passingResponse = true;
    return kind === undefined ? undefined : kind === 'response' && rewriteResponse === undefined;
  });
  // A rewritten event is rebuilt with its own line ends: the LF that completed its last CR is then dropped.
  let lastRewritten = false;
  const join = (pieces: ReturnType<typeof framer.push>): Buffer => {
    if (pieces.length === 0) return EMPTY;
    const parts: Buffer[] = [];
    for (const piece of pieces) {
      if (piece.continuation) {
        if (!lastRewritten) parts.push(piece.bytes);
        continue;
      }
      let changed: Buffer | undefined;
      if (piece.event) {
        const response = isResponseEvent(piece.bytes);
        if (response) {
          responseSeen = true;
          if (rewriteResponse) changed = rewriteMessage(piece.bytes, rewriteResponse);
        } else {
          changed = rewriteEvent(piece.bytes, rewrite, rewriteId);
        }
      } else if (piece.endsEvent && passingResponse) {
        responseSeen = true;
      }
      if (piece.endsEvent) passingResponse = false;
      lastRewritten = changed !== undefined;
      parts.push(changed ?? piece.bytes);
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  };
  return {
    push: (chunk) => join(framer.push(chunk)),
    end: () => join(framer.end()),
    responseSeen: () => responseSeen,
    holding: () => framer.holding(),
  };
}

const HEAD_BYTES = 512;
const FIRST_KEY = /(?:^|[\r\n])data:[ ]?[ \t]*\{[ \t]*"(result|error|method|jsonrpc|id|params)"/;

/**
 * What the first key of an event's data says: a JSON-RPC message that starts with `result` or `error` is a response
 * (one with a method cannot carry either). Undefined while the first data line has not arrived far enough.
 */
function leadingKind(head: Buffer): 'response' | 'other' | undefined {
  const text = head.subarray(0, HEAD_BYTES).toString('latin1');
  const m = FIRST_KEY.exec(text);
  if (m) return m[1] === 'result' || m[1] === 'error' ? 'response' : 'other';
  // A data line whose start is here but is not a JSON object, or a head this long without one: read it whole.
  return /(?:^|[\r\n])data:[ ]?[ \t]*[^ \t{\r\n]/.test(text) || head.length >= HEAD_BYTES ? 'other' : undefined;
}

/**
 * A whole event that carries a JSON-RPC response. Its id (an event store's) is left as the backend sent it: the
 * client resumes a call's stream only before its response, and the event passes byte for byte.
 */
function isResponseEvent(block: Buffer): boolean {
  const kind = leadingKind(block);
  if (kind === 'response') return true;
  if (block.indexOf('"result"') === -1 && block.indexOf('"error"') === -1) return false;
  const { other, data } = eventFields(block);
  const type = eventType(other);
  if (data === undefined || (type !== '' && type !== 'message')) return false;
  try {
    const message = JSON.parse(data) as unknown;
    return typeof message === 'object' && message !== null && !('method' in message) && ('result' in message || 'error' in message);
  } catch {
    return false;
  }
}

/** One event's fields, in order, as the WHATWG parser reads them; `data` lines joined with LF. */
export interface EventFields {
  /** Every line that is not a data line (comments, event, id, retry, unknown fields), verbatim. */
  readonly other: readonly string[];
  /** Undefined when the event has no data line. */
  readonly data: string | undefined;
}

export function eventFields(block: Buffer | string): EventFields {
  const text = typeof block === 'string' ? block : block.toString('utf8');
  const other: string[] = [];
  const data: string[] = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '') continue;
    if (line === 'data' || line.startsWith('data:')) {
      const value = line.slice(5);
      data.push(value.startsWith(' ') ? value.slice(1) : value);
    } else {
      other.push(line);
    }
  }
  return { other, data: data.length > 0 ? data.join('\n') : undefined };
}

/** The value of the event's last `event` field ('' when none), as the WHATWG parser reads it. */
export function eventType(other: readonly string[]): string {
  let type = '';
  for (const line of other) {
    if (line === 'event') type = '';
    else if (line.startsWith('event:')) type = line.slice(line.startsWith('event: ') ? 7 : 6);
  }
  return type;
}

/** An event from its fields: the other lines as they were, then the data (JSON has no raw newline; others may). */
export function eventBytes(other: readonly string[], data: string | undefined): Buffer {
  const dataLines = data === undefined ? '' : data.split('\n').map((part) => `data: ${part}\n`).join('');
  return Buffer.from(`${other.map((l) => `${l}\n`).join('')}${dataLines}\n`, 'utf8');
}

const ID_LINE = /(?:^|[\r\n])id(?:[:\r\n]|$)/;

/**
 * The event with its message (and, given `rewriteId`, its id) rewritten, or undefined when it stays as it is.
 * Only events whose data can be a JSON-RPC message with a method are parsed: responses and plain data pass
 * without a JSON parse.
 */
export function rewriteEvent(block: Buffer, rewrite: MessageRewrite, rewriteId?: IdRewrite): Buffer | undefined {
  const mayHaveMethod = block.indexOf('"method"') !== -1;
  const text = mayHaveMethod || rewriteId ? block.toString('utf8') : '';
  const hasId = rewriteId !== undefined && ID_LINE.test(text);
  if (!mayHaveMethod && !hasId) return undefined;
  const { other, data } = eventFields(text);
  const changed = mayHaveMethod ? rewrittenData(other, data, rewrite) : undefined;
  if (changed === undefined && !hasId) return undefined;
  const lines = hasId ? other.map((line) => idLine(line, rewriteId as IdRewrite)) : other;
  return eventBytes(lines, changed ?? data);
}

/** A whole event with its JSON-RPC message rewritten whatever it is; its other lines (id included) stay as they were. */
function rewriteMessage(block: Buffer, rewrite: MessageRewrite): Buffer | undefined {
  const { other, data } = eventFields(block);
  const changed = rewrittenData(other, data, rewrite);
  return changed === undefined ? undefined : eventBytes(other, changed);
}

function rewrittenData(other: readonly string[], data: string | undefined, rewrite: MessageRewrite): string | undefined {
  if (data === undefined) return undefined;
  // MCP clients read only `message` events (the default type); others are not JSON-RPC traffic.
  const type = eventType(other);
  if (type !== '' && type !== 'message') return undefined;
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    return undefined;
  }
  const changed = rewrite(message);
  return changed === undefined ? undefined : JSON.stringify(changed);
}

/** An `id` line with the value the client should see; an empty id (which resets the client's) stays empty. */
function idLine(line: string, rewriteId: IdRewrite): string {
  if (line !== 'id' && !line.startsWith('id:')) return line;
  const raw = line.slice(3);
  const value = raw.startsWith(' ') ? raw.slice(1) : raw;
  return value === '' || value.includes('\0') ? line : `id: ${rewriteId(value)}`;
}
