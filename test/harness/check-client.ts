// A simulated Envoy ext_authz filter: sends CheckRequests to toolgate and reads the answers as plain values.
import * as grpc from '@grpc/grpc-js';
import { envoyServices } from '../../src/envoy/protos.js';
import { fromStruct, type Struct } from '../../src/envoy/struct.js';

/** The HTTP request Envoy would describe in the CheckRequest; POST /mcp unless told otherwise. */
export interface CheckHttp {
  readonly method?: string;
  readonly path?: string;
  /** Sent as `authorization: Bearer <token>`. */
  readonly token?: string;
  readonly headers?: Record<string, string>;
  /** A JSON-RPC message (serialized, with `content-type: application/json`) or raw text, into `raw_body`. */
  readonly body?: unknown;
}

export interface CheckResult {
  readonly allowed: boolean;
  /** The gRPC status code of the CheckResponse (0 on allow). */
  readonly grpcCode: number;
  /** HTTP status of a denial (undefined when allowed). */
  readonly status: number | undefined;
  /** The denial body parsed as JSON (undefined when allowed or not JSON). */
  readonly body: any;
  /** For a tool-result denial: its text and code; for a JSON-RPC error: its message. */
  readonly text: string | undefined;
  readonly code: string | undefined;
  /** The dynamic metadata the answer carries (the handoff to ext_proc on an allow). */
  readonly metadata: Record<string, unknown>;
  /** On an allow: request headers Envoy sets (`headers`), removes, and response headers it writes back. */
  readonly headersSet: Record<string, string>;
  readonly headersRemoved: string[];
  readonly responseHeadersSet: Record<string, string>;
}

type CheckFn = (req: unknown, cb: (err: grpc.ServiceError | null, res: any) => void) => grpc.ClientUnaryCall;

/** A Check on its way: `call.cancel()` resets its stream, as Envoy does when the client goes away. */
export interface StartedCheck {
  readonly call: grpc.ClientUnaryCall;
  readonly result: Promise<CheckResult>;
}

export function checkClient(port: number) {
  const Ctor = grpc.makeClientConstructor(envoyServices().authz, 'Authorization');
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Check: CheckFn };
  const start = (http: CheckHttp): StartedCheck => {
    let call: grpc.ClientUnaryCall | undefined;
    const result = new Promise<CheckResult>((resolve, reject) => {
      call = client.Check(checkRequest(http), (err, res) => (err ? reject(err) : resolve(toResult(res))));
    });
    return { call: call as grpc.ClientUnaryCall, result };
  };
  return {
    check: (http: CheckHttp): Promise<CheckResult> => start(http).result,
    start,
    /** The channel's connectivity (READY while its one HTTP/2 connection is up). */
    channel: () => client.getChannel(),
    close: () => client.close(),
  };
}

function checkRequest(http: CheckHttp): unknown {
  const raw = http.body === undefined ? undefined : typeof http.body === 'string' ? http.body : JSON.stringify(http.body);
  return {
    attributes: {
      request: {
        http: {
          method: http.method ?? 'POST',
          path: http.path ?? '/mcp',
          headers: {
            ...(http.token !== undefined ? { authorization: `Bearer ${http.token}` } : {}),
            ...(raw !== undefined ? { 'content-type': 'application/json' } : {}),
            ...http.headers,
          },
          ...(raw !== undefined ? { raw_body: Buffer.from(raw) } : {}),
        },
      },
    },
  };
}

function toResult(res: any): CheckResult {
  const grpcCode = Number(res.status?.code ?? 0);
  const metadata = fromStruct(res.dynamic_metadata as Struct | undefined);
  const none = { headersSet: {}, headersRemoved: [], responseHeadersSet: {} };
  if (res.ok_response) {
    const ok = res.ok_response;
    const record = (list: Array<{ header: { key: string; value: string } }> | undefined) => Object.fromEntries((list ?? []).map((h) => [h.header.key, h.header.value]));
    return {
      allowed: true, grpcCode, status: undefined, body: undefined, text: undefined, code: undefined, metadata,
      headersSet: record(ok.headers), headersRemoved: [...(ok.headers_to_remove ?? [])], responseHeadersSet: record(ok.response_headers_to_add),
    };
  }
  const denied = res.denied_response ?? {};
  const body = json(denied.body);
  const text: string | undefined = body?.result?.content?.[0]?.text ?? body?.error?.message;
  const code: string | undefined = body?.result?.structuredContent?.code ?? body?.result?._meta?.code ?? body?.error?.data?.code;
  return { allowed: false, grpcCode, status: statusNumber(denied.status?.code), body, text, code, metadata, ...none };
}

function json(raw: unknown): any {
  if (!raw) return undefined;
  try {
    return JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw));
  } catch {
    return undefined;
  }
}

/** Enum names as protobufjs prints them (`NotFound`, `TooManyRequests`) back to numbers, for the few tests use. */
function statusNumber(code: unknown): number | undefined {
  const names: Record<string, number> = { OK: 200, Forbidden: 403, NotFound: 404, TooManyRequests: 429, ServiceUnavailable: 503, Unauthorized: 401, BadRequest: 400 };
  if (typeof code === 'number') return code;
  return typeof code === 'string' ? names[code] : undefined;
}

/** A tools/call JSON-RPC request; `meta` goes into `params._meta`. */
export function toolCall(name: string, args: Record<string, unknown> = {}, id: number | string = 1, meta?: Record<string, unknown>): unknown {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) } };
}
