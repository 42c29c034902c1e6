// Bytes that are not a CheckRequest or a ProcessingRequest, sent through a real grpc-js client to toolgate's gRPC server
// (lean codecs) and to the same server with the full generated codecs (as before src/envoy/codec/): both fail the call
// with INTERNAL before the handler runs, so Envoy answers with status_on_error (fail closed) exactly as before.
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcServerOptions, startGrpc, type RunningGrpc } from '../../src/app/server/grpc.js';
import type { RuntimeHolder } from '../../src/core/runtime.js';
import { checkHandler } from '../../src/envoy/check.js';
import { processHandler, type StreamWatch } from '../../src/envoy/process/stream.js';
import { CONTINUE } from '../../src/pipeline/extproc/exchange.js';
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
const processPath = (fullEnvoyServices().extProc.Process as unknown as { path: string }).path;
const raw = (b: Buffer): Buffer => b;

interface Target { readonly name: string; readonly port: number; readonly handled: () => number; readonly streamed: () => number; close(): Promise<void> }
const targets: Target[] = [];

/** Check and Process handlers that count the messages they get, so a test can tell a refused decode from a denial. */
function counted() {
  let checks = 0;
  let streams = 0;
  const metrics = createMetrics();
  const log = pino({ level: 'silent' });
  const handler = checkHandler(holder, log, { store: createMemoryStore(), metrics }, () => {
    checks++;
    return () => undefined;
  });
  const watch: StreamWatch = { phase: (run) => run(), end: () => undefined };
  const passThrough = { requestHeaders: () => CONTINUE, requestBody: () => CONTINUE, responseHeaders: () => CONTINUE, responseBody: () => CONTINUE };
  const process = processHandler({ exchange: () => passThrough, finished: () => undefined }, () => runtime.sessions.keyring, () => 0, log, metrics, () => {
    streams++;
    return watch;
  });
  return { handler, process, handled: () => checks, streamed: () => streams };
}

beforeAll(async () => {
  const options = grpcServerOptions(runtime.config.policy.maxBodyBytes);
  const lean = counted();
  const running: RunningGrpc = await startGrpc('127.0.0.1', await freePort(), { authz: { Check: lean.handler as grpc.UntypedHandleCall }, extProc: { Process: lean.process as grpc.UntypedHandleCall } }, options);
  targets.push({ name: 'lean codecs (toolgate\'s server)', port: running.port, handled: lean.handled, streamed: lean.streamed, close: () => running.shutdown(1_000) });

  // The server as it was: proto-loader's codecs, the metadata turned into a Struct for the full encoder. (Its Process
  // handler is today's: these tests send it nothing it decodes.)
  const before = counted();
  const server = new grpc.Server(options);
  server.addService(fullEnvoyServices().authz, {
    Check: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => before.handler(call as never, (err, res) => {
      const r = res as { dynamic_metadata?: Record<string, unknown> } | undefined;
      callback(err, r?.dynamic_metadata ? { ...r, dynamic_metadata: toStruct(r.dynamic_metadata) } : r);
    }),
  });
  server.addService(fullEnvoyServices().extProc, { Process: before.process as grpc.UntypedHandleCall });
  const address = `127.0.0.1:${await freePort()}`;
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  targets.push({ name: 'full codecs (before)', port, handled: before.handled, streamed: before.streamed, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) });
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

/** Opens a Process stream, sends `bytes` as its first message, and says how the stream ended. */
function stream(port: number, bytes: Buffer): Promise<number> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    const call = client.makeBidiStreamRequest(processPath, raw, raw);
    call.on('data', () => undefined);
    call.on('error', (err: grpc.ServiceError) => {
      client.close();
      resolve(err.code);
    });
    call.on('end', () => {
      client.close();
      resolve(grpc.status.OK);
    });
    call.write(bytes);
  });
}

const recordedHeaders = wireBytes(loadScenario('sidecar', 'tools-list').exchanges[0]?.stream?.events[0] as never);

describe('garbage in place of a ProcessingRequest, through grpc-js', () => {
  it.each([
    ['an HTTP request line, not protobuf', Buffer.from('POST /mcp HTTP/1.1\r\nhost: x\r\n\r\n')],
    ['recorded request headers cut in half', recordedHeaders.subarray(0, Math.floor(recordedHeaders.length / 2))],
    ['a header list whose length runs past the end', len(2, Buffer.from([0x0a, 0x7f, 0x00]))],
    ['a metadata namespace without its Struct', cat(len(2, Buffer.alloc(0)), len(8, len(1, len(1, 'envoy.filters.http.ext_authz'))))],
  ])('%s: the stream ends with INTERNAL from both servers, and no stream handler saw a message', async (_name, bytes) => {
    for (const target of targets) {
      const before = target.streamed();
      expect(await stream(target.port, bytes), target.name).toBe(grpc.status.INTERNAL);
      expect(target.streamed(), `${target.name}: no stream started`).toBe(before);
    }
  });
});
