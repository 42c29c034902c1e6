// Bytes that are not a CheckRequest, sent through a real grpc-js client to toolgate's gRPC server (lean codecs) and to
// the same server with the full generated codecs (as before src/envoy/codec/): both fail the call with INTERNAL
// before the handler runs, so Envoy answers with status_on_error (fail closed) exactly as before.
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcServerOptions, startGrpc, type RunningGrpc } from '../../src/app/server/grpc.js';
import type { RuntimeHolder } from '../../src/core/runtime.js';
import { checkHandler } from '../../src/envoy/check.js';
import { fullEnvoyServices } from '../../src/envoy/protos.js';
import { toStruct } from '../../src/envoy/struct.js';
import { createMemoryStore } from '../../src/ports/store/memory.js';
import { createMetrics } from '../../src/ports/telemetry/metrics.js';
import { loadScenario, wireBytes } from '../harness/envoy-fixtures.js';
import { freePort } from '../harness/ports.js';
import { cat, checkRequestWith, len } from '../harness/wire.js';
import { recordedRuntime } from '../unit/exchange-replay.js';

const runtime = recordedRuntime('sidecar');
const holder: RuntimeHolder = { current: () => runtime, reload: () => false, close: () => undefined, onChange: () => undefined };
const checkPath = (fullEnvoyServices().authz.Check as unknown as { path: string }).path;
const raw = (b: Buffer): Buffer => b;

interface Target { readonly name: string; readonly port: number; readonly handled: () => number; close(): Promise<void> }
const targets: Target[] = [];

/** A Check handler that counts the calls it gets, so a test can tell a refused decode from a denial. */
function counted() {
  let n = 0;
  const handler = checkHandler(holder, pino({ level: 'silent' }), { store: createMemoryStore(), metrics: createMetrics() }, () => {
    n++;
    return () => undefined;
  });
  return { handler, handled: () => n };
}

beforeAll(async () => {
  const options = grpcServerOptions(runtime.config.policy.maxBodyBytes);
  const lean = counted();
  const running: RunningGrpc = await startGrpc('127.0.0.1', await freePort(), { authz: { Check: lean.handler as grpc.UntypedHandleCall } }, options);
  targets.push({ name: 'lean codecs (toolgate\'s server)', port: running.port, handled: lean.handled, close: () => running.shutdown(1_000) });

  // The server as it was: proto-loader's codecs, the metadata turned into a Struct for the full encoder.
  const before = counted();
  const server = new grpc.Server(options);
  server.addService(fullEnvoyServices().authz, {
    Check: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => before.handler(call as never, (err, res) => {
      const r = res as { dynamic_metadata?: Record<string, unknown> } | undefined;
      callback(err, r?.dynamic_metadata ? { ...r, dynamic_metadata: toStruct(r.dynamic_metadata) } : r);
    }),
  });
  const address = `127.0.0.1:${await freePort()}`;
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  targets.push({ name: 'full codecs (before)', port, handled: before.handled, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) });
});

afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
});

function send(port: number, bytes: Buffer): Promise<{ code: number; reply?: Buffer }> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(checkPath, raw, raw, bytes, (err, reply) => {
      client.close();
      resolve(err ? { code: err.code } : { code: grpc.status.OK, reply });
    });
  });
}

const recorded = wireBytes(loadScenario('sidecar', 'tools-call-allowed').exchanges[0]?.check?.request as never);

const GARBAGE: ReadonlyArray<readonly [string, Buffer]> = [
  ['an HTTP request line, not protobuf', Buffer.from('POST /mcp HTTP/1.1\r\nhost: x\r\n\r\n')],
  ['a recorded CheckRequest cut in half', recorded.subarray(0, Math.floor(recorded.length / 2))],
  ['a recorded CheckRequest missing its last byte', recorded.subarray(0, recorded.length - 1)],
  ['a wire type that does not exist, inside http', checkRequestWith(cat(len(2, 'POST'), Buffer.from([0x77, 0x01])))],
  ['a body length past the end of the message', checkRequestWith(cat(len(2, 'POST'), Buffer.from([0x62, 0x7f, 0x00])))],
];

describe('garbage in place of a CheckRequest, through grpc-js', () => {
  it.each(GARBAGE)('%s: INTERNAL from both servers, and neither handler ran', async (_name, bytes) => {
    for (const target of targets) {
      const before = target.handled();
      const { code } = await send(target.port, bytes);
      expect(code, target.name).toBe(grpc.status.INTERNAL);
      expect(target.handled(), `${target.name}: the handler never saw it`).toBe(before);
    }
  });

  it('an empty message is a CheckRequest with nothing in it: both servers deny it the same way (401, no credential)', async () => {
    const answers = [];
    for (const target of targets) {
      const { code, reply } = await send(target.port, Buffer.alloc(0));
      expect(code, target.name).toBe(grpc.status.OK);
      const decoded = fullEnvoyServices().authz.Check!.responseDeserialize(reply as Buffer) as { status?: { code?: number }; denied_response?: { status?: { code?: string } }; ok_response?: unknown };
      expect(decoded.ok_response, target.name).toBeUndefined();
      answers.push({ grpc: decoded.status?.code, http: decoded.denied_response?.status?.code });
    }
    expect(answers[0]).toEqual({ grpc: 16, http: 'Unauthorized' });
    expect(answers[1]).toEqual(answers[0]);
  });
});
