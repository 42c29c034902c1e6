// A stand-in for toolgate's gRPC server: ext_authz that records every CheckRequest and answers with a
// test-chosen decision, and a pass-through ext_proc (the rendered bootstrap calls both).
import * as grpc from '@grpc/grpc-js';
import { envoyServices } from '../../src/envoy/protos.js';

/** The CheckRequest as toolgate's own proto load decodes it (keepCase, no defaults: an empty field is absent), bytes as Buffer. */
export type CheckRequest = {
  attributes: {
    request: {
      http: {
        method: string;
        path: string;
        headers: Record<string, string>;
        header_map: { headers: Array<{ key: string; value: string; raw_value: Buffer }> } | null;
        body?: string;
        raw_body?: Buffer;
        size?: string;
      } | null;
    } | null;
    [key: string]: unknown;
  };
};

/** A CheckResponse in proto-loader's JSON shape, e.g. `{ status: { code: 0 }, ok_response: {} }`. */
export type CheckResponse = Record<string, unknown>;

export const ALLOW: CheckResponse = Object.freeze({ status: { code: 0 }, ok_response: {} });

export function deny(httpStatus: number, body = ''): CheckResponse {
  // google.rpc.Code 7 = PERMISSION_DENIED; Envoy answers the client with denied_response.
  return { status: { code: 7 }, denied_response: { status: { code: httpStatus }, body } };
}

export interface AuthzStubOptions {
  /** Decides each check; default: allow everything. */
  decide?: (request: CheckRequest) => CheckResponse | Promise<CheckResponse>;
  /**
   * grpc-js server options. Note grpc-js refuses messages over 4 MiB by default
   * (`grpc.max_receive_message_length`): a CheckRequest carrying a body near that
   * size fails, and Envoy then answers with status_on_error.
   */
  serverOptions?: grpc.ServerOptions;
  /**
   * What ext_proc does with each stream: `pass` answers every phase with "continue" (the default); `fail` ends the
   * stream with UNAVAILABLE on its first message; `hang` reads and never answers.
   */
  extProc?: 'pass' | 'fail' | 'hang';
}

export interface AuthzStub {
  readonly port: number;
  /** Every CheckRequest received, oldest first. */
  readonly checks: readonly CheckRequest[];
  /** One entry per ext_proc stream (one per HTTP request): the phases Envoy sent, in order. */
  readonly processed: ReadonlyArray<readonly string[]>;
  /** The JSON-RPC bodies of the checks that had one (raw_body, since pack_as_bytes is on). */
  bodies(): unknown[];
  /** Drops connections at once: from then on Envoy's checks fail at the transport. Idempotent. */
  stop(): Promise<void>;
}

export async function startAuthzStub(opts: AuthzStubOptions = {}): Promise<AuthzStub> {
  const decide = opts.decide ?? (() => ALLOW);
  const checks: CheckRequest[] = [];
  const server = new grpc.Server(opts.serverOptions);
  server.addService(envoyServices().authz, {
    Check: (call: grpc.ServerUnaryCall<CheckRequest, CheckResponse>, callback: grpc.sendUnaryData<CheckResponse>) => {
      checks.push(call.request);
      Promise.resolve()
        .then(() => decide(call.request))
        .then((response) => callback(null, response), (err: Error) => callback({ code: grpc.status.INTERNAL, details: err.message }));
    },
  });
  const processed: string[][] = [];
  server.addService(envoyServices().extProc, {
    Process: (call: grpc.ServerDuplexStream<{ request?: string }, Record<string, unknown>>) => {
      const phases: string[] = [];
      processed.push(phases);
      // Answers every phase with an empty response of the matching type: continue, change nothing.
      call.on('data', (msg) => {
        if (!msg.request) return;
        phases.push(msg.request);
        if (opts.extProc === 'fail') call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'ext_proc stub told to fail' });
        else if (opts.extProc !== 'hang') call.write({ [msg.request]: {} });
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });

  let stopped = false;
  return {
    port,
    checks,
    processed,
    bodies: () => checks
      .map((c) => c.attributes.request?.http?.raw_body)
      .filter((b): b is Buffer => !!b && b.length > 0)
      .map((b) => JSON.parse(b.toString('utf8')) as unknown),
    async stop() {
      if (stopped) return;
      stopped = true;
      server.forceShutdown();
    },
  };
}
