// A simulated Envoy ext_authz filter: sends CheckRequests to toolgate and reads the answers as plain values.
import * as grpc from '@grpc/grpc-js';
import { envoyServices } from '../../src/envoy/protos.js';

export interface CheckResult {
  readonly allowed: boolean;
  /** HTTP status of a denial (undefined when allowed). */
  readonly status: number | undefined;
  /** The denial body parsed as JSON (undefined when allowed). */
  readonly body: any;
  /** For a tool-result denial: its text and code; for a JSON-RPC error: its message. */
  readonly text: string | undefined;
  readonly code: string | undefined;
}

type CheckFn = (req: unknown, cb: (err: grpc.ServiceError | null, res: any) => void) => void;

export function checkClient(port: number) {
  const Ctor = grpc.makeClientConstructor(envoyServices().authz, 'Authorization');
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Check: CheckFn };
  return {
    /** POSTs one JSON-RPC message to /mcp with the bearer token. */
    check(token: string, message: unknown, headers: Record<string, string> = {}): Promise<CheckResult> {
      const request = {
        attributes: {
          request: {
            http: {
              method: 'POST',
              path: '/mcp',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
              raw_body: Buffer.from(JSON.stringify(message)),
            },
          },
        },
      };
      return new Promise((resolve, reject) => {
        client.Check(request, (err, res) => (err ? reject(err) : resolve(toResult(res))));
      });
    },
    close: () => client.close(),
  };
}

function toResult(res: any): CheckResult {
  if (res.ok_response) return { allowed: true, status: undefined, body: undefined, text: undefined, code: undefined };
  const denied = res.denied_response ?? {};
  const raw = denied.body;
  const body = raw ? JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw)) : undefined;
  const text: string | undefined = body?.result?.content?.[0]?.text ?? body?.error?.message;
  const code: string | undefined = body?.result?.structuredContent?.code ?? body?.result?._meta?.code ?? body?.error?.data?.code;
  return { allowed: false, status: statusNumber(denied.status?.code), body, text, code };
}

/** Enum names as protobufjs prints them (`NotFound`, `TooManyRequests`) back to numbers, for the few tests use. */
function statusNumber(code: unknown): number | undefined {
  const names: Record<string, number> = { OK: 200, Forbidden: 403, NotFound: 404, TooManyRequests: 429, ServiceUnavailable: 503, Unauthorized: 401, BadRequest: 400 };
  if (typeof code === 'number') return code;
  return typeof code === 'string' ? names[code] : undefined;
}

/** A tools/call JSON-RPC request. */
export function toolCall(name: string, args: Record<string, unknown> = {}, id: number | string = 1): unknown {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } };
}
