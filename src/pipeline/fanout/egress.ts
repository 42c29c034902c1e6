// HTTP client for toolgate's own calls to backend MCP servers, always through Envoy's egress listener.
import { parseProtocolVersion, requestEnvelope, type RequestEnvelope } from '../../core/mcp/protocol.js';
import { toBackendSessionId, type BackendSessionId } from '../../core/session/types.js';
import { readJsonRpcResponse, type JsonRpcResponse } from './read.js';

export type { JsonRpcResponse } from './read.js';

/** The header Envoy's egress listener routes on; its value is a backend name from the config. */
export const BACKEND_HEADER = 'x-toolgate-backend';

export interface EgressOptions {
  /** Envoy egress listener, e.g. `http://127.0.0.1:15001`. */
  readonly baseUrl: string;
  /** Whole exchange, including reading an SSE stream up to the response. */
  readonly timeoutMs: number;
  /** Default request path on the backend; `/mcp` when absent. */
  readonly path?: string;
  /** Largest response body read before giving up (`bad-response`); 8 MiB when absent. */
  readonly maxResponseBytes?: number;
}

export interface RequestMessage {
  readonly method: string;
  readonly params?: Record<string, unknown>;
  readonly id: string | number;
}

export interface NotificationMessage {
  readonly method: string;
  readonly params?: Record<string, unknown>;
}

export interface CallOptions {
  /** The backend's own session id (never the client-facing token). */
  readonly sessionId?: string;
  readonly protocolVersion?: string;
  /**
   * On 2026-07-28 (stateless): the `_meta` envelope every request carries (see `requestEnvelope`); the revision with
   * no client capabilities when absent. Ignored on earlier revisions.
   */
  readonly envelope?: RequestEnvelope;
  readonly path?: string;
  /**
   * Extra headers (e.g. `traceparent`, or the gateway's `x-toolgate-affinity` hash key). The backend routing
   * header, session and protocol headers here are ignored: the client sets those from its own arguments.
   */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Local failure codes, one per cause a metric or log should tell apart. `rpc-error` is only
 * produced by callers that need a result (see pages.ts); `request` returns JSON-RPC errors as `ok`.
 */
export type EgressError = 'timeout' | 'http-status' | 'bad-response' | 'network' | 'session-expired' | 'rpc-error';

export interface EgressFailure {
  readonly ok: false;
  readonly backend: string;
  readonly error: EgressError;
  readonly status?: number;
  readonly detail: string;
}

export interface RequestSuccess {
  readonly ok: true;
  readonly status: number;
  readonly message: JsonRpcResponse;
  /** From the response's `mcp-session-id` header (sent by the backend on `initialize`). */
  readonly sessionId?: BackendSessionId;
  /** From an `initialize` result, else the version the call was made with. */
  readonly protocolVersion?: string;
}

export interface SendSuccess {
  readonly ok: true;
  readonly status: number;
}

export interface StreamSuccess {
  readonly ok: true;
  readonly status: number;
  /** The open text/event-stream body; the caller reads it and cancels it (or aborts its signal) when done. */
  readonly body: ReadableStream<Uint8Array>;
}

export interface StreamOptions extends CallOptions {
  /** Resumes the backend's stream after this event id (`Last-Event-ID`). */
  readonly lastEventId?: string;
}

export interface EgressClient {
  request(backend: string, message: RequestMessage, opts?: CallOptions): Promise<RequestSuccess | EgressFailure>;
  /** A notification: the backend answers 202 (or 200) with no JSON-RPC message. */
  notify(backend: string, message: NotificationMessage, opts?: CallOptions): Promise<SendSuccess | EgressFailure>;
  /** Ends a backend session. 405 counts as done: the spec lets a server refuse client-side termination. */
  deleteSession(backend: string, sessionId: string, opts?: Omit<CallOptions, 'sessionId'>): Promise<SendSuccess | EgressFailure>;
  /**
   * Opens the backend's standalone GET event stream. The deadline covers only the response headers; the stream
   * then stays open until the backend ends it or `signal` aborts. A 405 is the spec's "no stream offered".
   */
  openStream(backend: string, opts: StreamOptions, signal: AbortSignal): Promise<StreamSuccess | EgressFailure>;
  fanOut: typeof fanOut;
}

export interface FanOutResult<S> {
  /** Keyed by backend, in the order the backends were given. */
  readonly ok: Map<string, S>;
  readonly failed: Map<string, EgressFailure>;
}

/**
 * Runs one call per backend concurrently and splits the outcomes. Never rejects: a backend that
 * fails, or whose call throws, is left out of `ok` and listed in `failed` with its reason.
 */
export async function fanOut<S extends { readonly ok: true }>(
  backends: readonly string[],
  fn: (backend: string) => Promise<S | EgressFailure>,
): Promise<FanOutResult<S>> {
  const settled = await Promise.allSettled(backends.map((backend) => fn(backend)));
  const result: FanOutResult<S> = { ok: new Map(), failed: new Map() };
  settled.forEach((outcome, i) => {
    const backend = backends[i] as string;
    if (outcome.status === 'rejected') {
      result.failed.set(backend, { ok: false, backend, error: 'network', detail: `call threw: ${errorText(outcome.reason)}` });
    } else if (outcome.value.ok) result.ok.set(backend, outcome.value);
    else result.failed.set(backend, outcome.value);
  });
  return result;
}

const ACCEPT = 'application/json, text/event-stream';
// Headers toolgate owns on an egress call; a caller's copy (in any letter case) is dropped. Other x-toolgate-*
// headers pass: the ring-hash affinity key must reach Envoy, or the initialize fan-out lands on a random replica.
const OWN_HEADERS: ReadonlySet<string> = new Set(['accept', 'content-type', 'content-length', 'mcp-session-id', 'mcp-protocol-version', 'mcp-method', 'mcp-name', 'last-event-id', BACKEND_HEADER]);

/**
 * A message as its revision is spoken: on 2026-07-28 every POST names its method in `Mcp-Method` and carries the
 * `_meta` envelope (a 2.x server refuses it otherwise). toolgate fans out only methods without an `Mcp-Name` (lists,
 * `server/discover`, notifications), so it sends none. Earlier revisions: the message as given, no extra header.
 */
function shaped(message: { readonly method: string; readonly params?: Record<string, unknown> }, opts: CallOptions): { params?: Record<string, unknown>; headers: Record<string, string> } {
  const parsed = parseProtocolVersion(opts.protocolVersion);
  if (parsed.kind !== 'known' || !parsed.stateless) return { params: message.params, headers: {} };
  const params = message.params ?? {};
  const meta = typeof params._meta === 'object' && params._meta !== null ? params._meta : {};
  const envelope = opts.envelope ?? requestEnvelope(parsed.version, undefined);
  return { params: { ...params, _meta: { ...meta, ...envelope } }, headers: { 'mcp-method': message.method } };
}

function egressHeaders(backend: string, opts: CallOptions, sessionId: string | undefined, hasBody: boolean): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(opts.headers ?? {})) {
    const lower = name.toLowerCase();
    if (!OWN_HEADERS.has(lower)) headers[lower] = value;
  }
  headers.accept = ACCEPT;
  headers[BACKEND_HEADER] = backend;
  if (hasBody) headers['content-type'] = 'application/json';
  if (sessionId !== undefined) headers['mcp-session-id'] = sessionId;
  if (opts.protocolVersion !== undefined) headers['mcp-protocol-version'] = opts.protocolVersion;
  return headers;
}

export function createEgressClient(options: EgressOptions): EgressClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  const maxBytes = options.maxResponseBytes ?? 8 * 1024 * 1024;

  /** One HTTP exchange under one deadline; `read` sees the response while the deadline still runs. */
  async function exchange<T>(
    backend: string,
    init: { method: string; body?: string; opts: CallOptions; sessionId: string | undefined; rpcHeaders?: Record<string, string> },
    read: (res: Response) => Promise<T | EgressFailure>,
  ): Promise<T | EgressFailure> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), options.timeoutMs);
    const headers = { ...egressHeaders(backend, init.opts, init.sessionId, init.body !== undefined), ...init.rpcHeaders };
    const fail = (error: EgressError, detail: string, status?: number): EgressFailure => ({ ok: false, backend, error, status, detail });
    try {
      const url = `${base}${init.opts.path ?? options.path ?? '/mcp'}`;
      const res = await fetch(url, { method: init.method, headers, body: init.body, signal: controller.signal });
      // A 404 to a request that named a session is the spec's "session unknown, re-initialize".
      if (res.status === 404 && init.sessionId !== undefined) {
        await res.body?.cancel();
        return fail('session-expired', 'backend does not know the session', 404);
      }
      return await read(res);
    } catch (err) {
      // Our own deadline aborts the fetch or the body read; anything else is the connection.
      if (controller.signal.aborted) return fail('timeout', `no answer within ${options.timeoutMs} ms`);
      return fail('network', errorText(err));
    } finally {
      clearTimeout(timer);
    }
  }

  const statusFailure = async (backend: string, res: Response): Promise<EgressFailure> => {
    const body = (await res.text()).slice(0, 300);
    return { ok: false, backend, error: 'http-status', status: res.status, detail: `HTTP ${res.status}${body ? `: ${body}` : ''}` };
  };

  return {
    request(backend, message, opts = {}) {
      const { params, headers } = shaped(message, opts);
      const body = JSON.stringify({ jsonrpc: '2.0', ...message, ...(params === undefined ? {} : { params }) });
      return exchange(backend, { method: 'POST', body, opts, sessionId: opts.sessionId, rpcHeaders: headers }, async (res) => {
        if (res.status !== 200) return statusFailure(backend, res);
        const read = await readJsonRpcResponse(res, message.id, maxBytes);
        if (!read.ok) return { ok: false, backend, error: 'bad-response', status: res.status, detail: read.detail };
        const header = res.headers.get('mcp-session-id');
        const sessionId = header === null ? undefined : toBackendSessionId(header);
        if (header !== null && sessionId === undefined) {
          return { ok: false, backend, error: 'bad-response', status: res.status, detail: 'mcp-session-id has characters outside visible ASCII' };
        }
        const protocolVersion = negotiatedVersion(message.method, read.message) ?? opts.protocolVersion;
        return { ok: true, status: res.status, message: read.message, sessionId, protocolVersion };
      });
    },
    notify(backend, message, opts = {}) {
      const { params, headers } = shaped(message, opts);
      const body = JSON.stringify({ jsonrpc: '2.0', ...message, ...(params === undefined ? {} : { params }) });
      return exchange(backend, { method: 'POST', body, opts, sessionId: opts.sessionId, rpcHeaders: headers }, async (res) => {
        if (res.status !== 202 && res.status !== 200) return statusFailure(backend, res);
        await res.body?.cancel();
        return { ok: true, status: res.status };
      });
    },
    deleteSession(backend, sessionId, opts = {}) {
      return exchange(backend, { method: 'DELETE', opts, sessionId }, async (res) => {
        if (!res.ok && res.status !== 405) return statusFailure(backend, res);
        await res.body?.cancel();
        return { ok: true, status: res.status };
      });
    },
    async openStream(backend, opts, signal) {
      const headers: Record<string, string> = { ...egressHeaders(backend, opts, opts.sessionId, false), accept: 'text/event-stream' };
      if (opts.lastEventId !== undefined) headers['last-event-id'] = opts.lastEventId;
      const fail = (error: EgressError, detail: string, status?: number): EgressFailure => ({ ok: false, backend, error, status, detail });
      // Our own deadline for the headers, tied to the caller's signal for the rest of the stream's life.
      const controller = new AbortController();
      const stop = () => controller.abort();
      signal.addEventListener('abort', stop, { once: true });
      const timer = setTimeout(stop, options.timeoutMs);
      let open = false;
      try {
        const res = await fetch(`${base}${opts.path ?? options.path ?? '/mcp'}`, { method: 'GET', headers, signal: controller.signal });
        clearTimeout(timer);
        if (res.status === 404 && opts.sessionId !== undefined) {
          await res.body?.cancel();
          return fail('session-expired', 'backend does not know the session', 404);
        }
        if (res.status !== 200) return await statusFailure(backend, res);
        if (!(res.headers.get('content-type') ?? '').toLowerCase().startsWith('text/event-stream') || !res.body) {
          await res.body?.cancel();
          return fail('bad-response', `GET answered ${res.headers.get('content-type') ?? 'no content type'}, not text/event-stream`, 200);
        }
        open = true;
        return { ok: true, status: res.status, body: res.body };
      } catch (err) {
        if (signal.aborted) return fail('network', 'the stream was no longer wanted');
        if (controller.signal.aborted) return fail('timeout', `no answer within ${options.timeoutMs} ms`);
        return fail('network', errorText(err));
      } finally {
        clearTimeout(timer);
        // An open stream keeps listening: aborting `signal` is how the caller closes it. Pass one signal per stream.
        if (!open) signal.removeEventListener('abort', stop);
      }
    },
    fanOut,
  };
}

function negotiatedVersion(method: string, message: JsonRpcResponse): string | undefined {
  if (method !== 'initialize' || !('result' in message)) return undefined;
  const version = message.result.protocolVersion;
  return typeof version === 'string' ? version : undefined;
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // undici hides the socket error (ECONNREFUSED, ECONNRESET) in `cause`; that is the useful part.
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}
