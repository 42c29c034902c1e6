// Reads one JSON-RPC response out of a backend's HTTP answer, whether plain JSON or an SSE stream.
import { isObject } from '../../core/mcp/message.js';
import { createSseParser } from './sse.js';

export type JsonRpcId = string | number;

export interface JsonRpcError {
  readonly code: number;
  readonly message: string;
  readonly data?: unknown;
}

export type JsonRpcResponse =
  | { readonly jsonrpc: '2.0'; readonly id: JsonRpcId; readonly result: Record<string, unknown> }
  | { readonly jsonrpc: '2.0'; readonly id: JsonRpcId | null; readonly error: JsonRpcError };

export type ReadResult = { readonly ok: true; readonly message: JsonRpcResponse } | { readonly ok: false; readonly detail: string };

/**
 * Reads the response to request `id`. The caller's deadline aborts the body read, which rejects
 * here and is reported by the caller as a timeout; everything else is a value.
 */
export async function readJsonRpcResponse(res: Response, id: JsonRpcId, maxBytes: number): Promise<ReadResult> {
  const type = (res.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (res.body === null) return { ok: false, detail: 'response has no body' };
  if (type === 'application/json') return readJson(res.body, id, maxBytes);
  if (type === 'text/event-stream') return readSse(res.body, id, maxBytes);
  await res.body.cancel();
  return { ok: false, detail: `unexpected content-type "${type}"` };
}

async function readJson(body: ReadableStream<Uint8Array>, id: JsonRpcId, maxBytes: number): Promise<ReadResult> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      void reader.cancel().catch(() => undefined);
      return { ok: false, detail: `JSON body larger than ${maxBytes} bytes` };
    }
    chunks.push(value);
  }
  const text = new TextDecoder().decode(Buffer.concat(chunks));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, detail: 'body is not valid JSON' };
  }
  // A plain JSON answer belongs to this request even when the server could not read our id (null).
  const message = asResponse(parsed);
  if (message === undefined) return { ok: false, detail: 'body is not a JSON-RPC response' };
  if (message.id !== id && message.id !== null) return { ok: false, detail: `response id ${String(message.id)} is not ${String(id)}` };
  return { ok: true, message };
}

/**
 * Reads events until the response to `id` arrives, then cancels the stream: what follows
 * (notifications, server requests such as sampling) belongs to no one here. A stream that ends
 * first is a bad response; 2025-11-25 resumption by GET with `Last-Event-ID` is not attempted.
 */
async function readSse(body: ReadableStream<Uint8Array>, id: JsonRpcId, maxBytes: number): Promise<ReadResult> {
  const parser = createSseParser();
  const reader = body.getReader();
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    const events = done ? parser.end() : parser.push(value);
    for (const event of events) {
      if (event.event !== 'message') continue;
      const message = asResponse(parseJson(event.data));
      if (message !== undefined && message.id === id) {
        void reader.cancel().catch(() => undefined);
        return { ok: true, message };
      }
    }
    if (done) return { ok: false, detail: 'event stream ended before the response' };
    size += value.byteLength;
    if (size > maxBytes) {
      void reader.cancel().catch(() => undefined);
      return { ok: false, detail: `event stream passed ${maxBytes} bytes without the response` };
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // a non-JSON event (e.g. a priming event) is skipped, not fatal
  }
}


function asResponse(value: unknown): JsonRpcResponse | undefined {
  if (!isObject(value) || value.jsonrpc !== '2.0' || 'method' in value) return undefined;
  const id = value.id;
  const idOk = typeof id === 'string' || typeof id === 'number';
  if (idOk && isObject(value.result)) return { jsonrpc: '2.0', id, result: value.result };
  const error = value.error;
  if ((idOk || id === null) && isObject(error) && typeof error.code === 'number' && typeof error.message === 'string') {
    return { jsonrpc: '2.0', id, error: 'data' in error ? { code: error.code, message: error.message, data: error.data } : { code: error.code, message: error.message } };
  }
  return undefined;
}
