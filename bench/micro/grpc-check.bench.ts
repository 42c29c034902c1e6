// One Check through a real grpc-js client and toolgate's gRPC server on loopback, in one process: the round trip's wall
// time, client included. The client sends pre-encoded CheckRequest bytes and keeps the answer as bytes, as Envoy does,
// so its own protobuf work is not in the figure; its grpc-js and HTTP/2 work is. The server's own CPU per Check, and
// where it goes, is bench/micro/check-profile.ts's (docs/benchmark.md, "Where a Check's CPU goes").
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, bench, describe } from 'vitest';
import { grpcServerOptions, startGrpc, type RunningGrpc } from '../../src/app/server/grpc.js';
import { checkHandler } from '../../src/envoy/check.js';
import type { RuntimeHolder } from '../../src/core/runtime.js';
import { createMemoryStore } from '../../src/ports/store/memory.js';
import { createMetrics } from '../../src/ports/telemetry/metrics.js';
import { allows, checkRequestBytes, CHECK_PATH } from './grpc-fixtures.js';
import { fixture, toolCallBody } from './fixtures.js';

const { runtime, token, session } = await fixture();
const holder: RuntimeHolder = { current: () => runtime, reload: () => false, close: () => undefined, onChange: () => undefined };
const log = pino({ level: 'silent' });
const deps = { store: createMemoryStore(), metrics: createMetrics() };
const request = checkRequestBytes(token, session, toolCallBody('echo', { text: 'hello from the toolgate benchmark' }));

/** The cheapest possible answer: what grpc-js, HTTP/2 and the codecs cost with no toolgate work at all. */
const answerOk: grpc.handleUnaryCall<unknown, unknown> = (_call, callback) => callback(null, { status: { code: 0 }, ok_response: {} });

const raw = (b: Buffer): Buffer => b;
const servers: RunningGrpc[] = [];
const clients: grpc.Client[] = [];

async function loopback(handler: grpc.UntypedHandleCall, options: grpc.ServerOptions): Promise<() => Promise<void>> {
  const server = await startGrpc('127.0.0.1', 0, { authz: { Check: handler } }, options);
  servers.push(server);
  const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  clients.push(client);
  const once = () => new Promise<void>((resolve, reject) => {
    client.makeUnaryRequest(CHECK_PATH, raw, raw, request, (err, reply) => (err ? reject(err) : reply && reply.length > 0 ? resolve() : reject(new Error('empty CheckResponse'))));
  });
  const first = await new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(CHECK_PATH, raw, raw, request, (err, reply) => (err || !reply ? reject(err ?? new Error('no reply')) : resolve(reply)));
  });
  if (!allows(first)) throw new Error('the bench Check was not allowed: the figure would time a denial');
  return once;
}

const options = grpcServerOptions(runtime.config.policy.maxBodyBytes);
const noop = await loopback(answerOk, options);
const real = await loopback(checkHandler(holder, log, deps) as grpc.UntypedHandleCall, options);
// grpc-js's default, which toolgate turns off (src/app/server/grpc.ts).
const noopChannelz = await loopback(answerOk, { ...options, 'grpc.enable_channelz': 1 });
const realChannelz = await loopback(checkHandler(holder, log, deps) as grpc.UntypedHandleCall, { ...options, 'grpc.enable_channelz': 1 });

// Every server and client warmed alike before any figure: the first bench of a file otherwise pays for the JIT.
for (const once of [noop, real, noopChannelz, realChannelz]) for (let i = 0; i < 1_500; i++) await once();

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(servers.map((s) => s.shutdown(1_000)));
});

// Long runs with a warm-up: a loopback round trip is ~1 ms, and the first few hundred calls are still JIT-compiling.
const RUN = { time: 3_000, warmupTime: 1_000, warmupIterations: 300 };

describe('Check over grpc-js on loopback (client + server in one process)', () => {
  bench('handler answers OK at once (transport + codecs only)', noop, RUN);
  bench('toolgate Check, 2025 tools/call echo (allowed)', real, RUN);
  bench('handler answers OK at once, channelz on', noopChannelz, RUN);
  bench('toolgate Check, 2025 tools/call echo, channelz on', realChannelz, RUN);
});
