// Where a Check's CPU goes: toolgate's gRPC server on this thread, a grpc-js client on a worker thread, loopback
// between them. Prints the server thread's CPU per Check for each variant (interleaved rounds, medians) and, with
// --profile, a V8 CPU profile of one variant split by stage, package and function. Run:
//   node scripts/on-pinned-node.mjs --import tsx bench/micro/check-profile.ts [--calls 2000] [--rounds 9] [--concurrency 1,8,32] [--variants noop,full,lean-channelz,lean]
//   node scripts/on-pinned-node.mjs --import tsx bench/micro/check-profile.ts --profile lean --concurrency 8
import { writeFileSync, mkdirSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { grpcServerOptions } from '../../src/app/server/grpc.js';
import type { RuntimeHolder } from '../../src/core/runtime.js';
import { checkHandler } from '../../src/envoy/check.js';
import { envoyServices, fullEnvoyServices } from '../../src/envoy/protos.js';
import { toStruct } from '../../src/envoy/struct.js';
import { createLogger } from '../../src/ports/log/logger.js';
import { createMemoryStore } from '../../src/ports/store/memory.js';
import { createMetrics } from '../../src/ports/telemetry/metrics.js';
import { summarizeProfile } from '../load/profile.js';
import { REPO_ROOT } from '../../test/harness/repo.js';
import { fixture, toolCallBody } from './fixtures.js';
import { allows, checkRequestBytes, CHECK_PATH } from './grpc-fixtures.js';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '9' },
    concurrency: { type: 'string', default: '1,8,32' },
    variants: { type: 'string' },
    profile: { type: 'string' },
  },
});

const { runtime, token, session } = await fixture();
const holder: RuntimeHolder = { current: () => runtime, reload: () => false, close: () => undefined, onChange: () => undefined };
// The audit record is written as in production (pino, async destination), to /dev/null.
const log = createLogger({ destination: pino.destination({ dest: '/dev/null', sync: false }) });
const deps = { store: createMemoryStore(), metrics: createMetrics() };
const request = checkRequestBytes(token, session, toolCallBody('echo', { text: 'hello from the toolgate benchmark' }));

interface Variant {
  readonly name: string;
  readonly describe: string;
  /** `noop` answers OK at once; `check` is toolgate's Check handler. */
  readonly handler: 'noop' | 'check';
  /** `full`: proto-loader's generated codecs, as before src/envoy/codec/; `lean`: toolgate's. */
  readonly codecs: 'full' | 'lean';
  readonly options?: grpc.ServerOptions;
}

const VARIANTS: readonly Variant[] = [
  { name: 'noop', describe: 'handler answers OK at once (transport floor)', handler: 'noop', codecs: 'lean' },
  // As before issue 10's codec work: proto-loader's codecs, channelz on (grpc-js's default).
  { name: 'full', describe: 'toolgate Check, full codecs, channelz on (before)', handler: 'check', codecs: 'full', options: { 'grpc.enable_channelz': 1 } },
  { name: 'lean-channelz', describe: 'toolgate Check, lean codecs, channelz on', handler: 'check', codecs: 'lean', options: { 'grpc.enable_channelz': 1 } },
  { name: 'lean', describe: 'toolgate Check, lean codecs, channelz off (now)', handler: 'check', codecs: 'lean' },
  // grpc-js's and Node's own limits instead of toolgate's raised ones (100 streams, Node's 10 MB session memory).
  { name: 'lean-default-limits', describe: 'toolgate Check, lean codecs, default stream and session-memory limits', handler: 'check', codecs: 'lean', options: { 'grpc.max_concurrent_streams': undefined, 'grpc-node.max_session_memory': undefined } },
];

const answerOk: grpc.handleUnaryCall<unknown, unknown> = (_call, callback) => callback(null, { status: { code: 0 }, ok_response: {} });

/** The handler as it ran before the lean encoder: the full encoder needs the metadata as a Struct (toStruct). */
function withStructMetadata(handler: grpc.handleUnaryCall<unknown, unknown>): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => handler(call, (err, res) => {
    const r = res as { dynamic_metadata?: Record<string, unknown> } | undefined;
    callback(err, r?.dynamic_metadata ? { ...r, dynamic_metadata: toStruct(r.dynamic_metadata) } : r);
  });
}

interface Running { readonly variant: Variant; readonly worker: Worker; readonly server: grpc.Server; readonly port: number }

async function start(variant: Variant): Promise<Running> {
  const server = new grpc.Server({ ...grpcServerOptions(runtime.config.policy.maxBodyBytes), ...variant.options });
  const defs = variant.codecs === 'lean' ? envoyServices() : fullEnvoyServices();
  const check = checkHandler(holder, log, deps) as grpc.handleUnaryCall<unknown, unknown>;
  const handler = variant.handler === 'noop' ? answerOk : variant.codecs === 'full' ? withStructMetadata(check) : check;
  server.addService(defs.authz, { Check: handler });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const worker = new Worker(new URL('./check-client-worker.mjs', import.meta.url), { workerData: { port, path: CHECK_PATH, request } });
  return { variant, worker, server, port };
}

function calls(r: Running, total: number, concurrency: number): Promise<{ ok: number; failed: number }> {
  return new Promise((resolve) => {
    r.worker.once('message', resolve);
    r.worker.postMessage({ type: 'run', total, concurrency });
  });
}

/** CPU of this thread (the server's) per Check, µs, over `total` calls: user (JavaScript, V8, Node) and system (the kernel: loopback TCP, epoll). */
async function cpuPerCall(r: Running, total: number, concurrency: number): Promise<{ user: number; system: number }> {
  const before = process.threadCpuUsage();
  const result = await calls(r, total, concurrency);
  const used = process.threadCpuUsage(before);
  if (result.failed > 0) throw new Error(`${r.variant.name}: ${result.failed} of ${total} Checks failed`);
  return { user: used.user / total, system: used.system / total };
}

/** One Check answered and read, so no figure times a denial or an error. */
async function checkAllowed(r: Running): Promise<void> {
  const reply = await new Promise<Buffer>((resolve, reject) => {
    const client = new grpc.Client(`127.0.0.1:${r.port}`, grpc.credentials.createInsecure());
    client.makeUnaryRequest(CHECK_PATH, (b: Buffer) => b, (b: Buffer) => b, request, (err, res) => {
      client.close();
      if (err || !res) reject(err ?? new Error('no CheckResponse'));
      else resolve(res);
    });
  });
  if (r.variant.handler === 'check' && !allows(reply)) throw new Error(`${r.variant.name}: the bench Check was not allowed`);
}

async function stop(r: Running): Promise<void> {
  r.worker.postMessage({ type: 'close' });
  await new Promise<void>((resolve) => r.server.tryShutdown(() => resolve()));
  await r.worker.terminate();
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

async function compare(): Promise<void> {
  const picked = args.variants ? VARIANTS.filter((v) => args.variants?.split(',').includes(v.name)) : VARIANTS;
  const total = Number(args.calls);
  const levels = (args.concurrency ?? '1').split(',').map(Number);
  const running = await Promise.all(picked.map(start));
  for (const r of running) await checkAllowed(r);
  for (const r of running) await calls(r, 1_000, 8);
  const rows: string[] = [];
  for (const c of levels) {
    const samples = new Map<string, Array<{ user: number; system: number }>>();
    for (let round = 0; round < Number(args.rounds); round++) {
      for (const r of running) samples.set(r.variant.name, [...(samples.get(r.variant.name) ?? []), await cpuPerCall(r, total, c)]);
    }
    for (const r of running) {
      const xs = samples.get(r.variant.name) ?? [];
      const all = xs.map((x) => x.user + x.system);
      rows.push(`| ${r.variant.describe} | ${c} | ${median(all).toFixed(0)} | ${median(xs.map((x) => x.user)).toFixed(0)} | ${median(xs.map((x) => x.system)).toFixed(0)} | ${Math.min(...all).toFixed(0)}–${Math.max(...all).toFixed(0)} |`);
    }
  }
  console.log(`Node ${process.version}; ${total} Checks per round, ${args.rounds} rounds, variants interleaved; server thread CPU only.\n`);
  console.log('| variant | concurrent calls | µs CPU per Check (median) | user | system | range over rounds |');
  console.log('|---|---:|---:|---:|---:|---|');
  for (const row of rows) console.log(row);
  for (const r of running) await stop(r);
}

async function profile(name: string): Promise<void> {
  const variant = VARIANTS.find((v) => v.name === name);
  if (!variant) throw new Error(`no variant ${name}: ${VARIANTS.map((v) => v.name).join(', ')}`);
  const concurrency = Number((args.concurrency ?? '8').split(',')[0]);
  const total = Number(args.calls) * 3;
  const r = await start(variant);
  await checkAllowed(r);
  await calls(r, 2_000, concurrency);
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  const cpuBefore = process.threadCpuUsage();
  await calls(r, total, concurrency);
  const cpu = process.threadCpuUsage(cpuBefore);
  const { profile: cpuProfile } = await session.post('Profiler.stop');
  session.disconnect();
  await stop(r);
  const dir = join(REPO_ROOT, 'bench', 'out');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `check-${name}.cpuprofile`);
  writeFileSync(file, JSON.stringify(cpuProfile));
  const p = cpuProfile as unknown as Parameters<typeof summarizeProfile>[0];
  const summary = summarizeProfile(p, { fromEndUs: p.endTime - p.startTime, toEndUs: 0 }, total, REPO_ROOT, file);
  console.log(`Node ${process.version}; ${variant.describe}; ${total} Checks, ${concurrency} concurrent; server thread CPU ${((cpu.user + cpu.system) / total).toFixed(0)} µs per Check (profiler on: ${summary.busyUsPerRequest.toFixed(0)} µs busy per Check in the samples).\n`);
  const table = (title: string, rows: typeof summary.topSelf) => {
    console.log(`**${title}**\n\n| what | where | µs per Check | % |\n|---|---|---:|---:|`);
    for (const row of rows) console.log(`| \`${row.name}\` | ${row.where || '–'} | ${((row.ms * 1000) / total).toFixed(1)} | ${row.pct.toFixed(1)} |`);
    console.log('');
  };
  console.log('**By stage** (each sample charged to the innermost frame with an owner: see stages())\n\n| stage | µs per Check | % |\n|---|---:|---:|');
  for (const [stage, us] of stages(p)) console.log(`| ${stage} | ${(us / total).toFixed(1)} | ${((100 * us) / summary.busyMs / 1000).toFixed(1)} |`);
  console.log('');
  table('By package (self time)', summary.byPackage);
  table('Top self time', summary.topSelf.slice(0, 20));
}

const AUDIT = 'audit record: pino, redaction, its fs.write (src/ports/log)';
const TRANSPORT = 'gRPC and HTTP/2: grpc-js, node:http2, sockets';

/** Where a toolgate file's work belongs in a Check, by its path under src/. */
const STAGES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^envoy\/codec\//, 'protobuf decode and encode (src/envoy/codec)'],
  [/^envoy\//, 'Check adapter (src/envoy/check.ts)'],
  [/^core\/session\/handoff/, 'handoff signing: HMAC, body digest (src/core/session/handoff.ts)'],
  [/^(core|pipeline)\/session\//, 'client session token: open it, swap in the backend id (src/core/session, src/pipeline/session)'],
  [/^ports\/log\//, AUDIT],
  [/^ports\/telemetry\//, 'metrics (src/ports/telemetry)'],
  [/^(pipeline|core|ports\/store)\//, 'authorize(): identity, body, policy, limits, store (src/pipeline, src/core, src/ports/store)'],
];

type Profile = Parameters<typeof summarizeProfile>[0];

/** Owners of frames outside src/: a sample belongs to the innermost frame that has one (or a src/ stage). */
const PACKAGES: ReadonlyArray<readonly [RegExp, string]> = [
  [/\/node_modules\/(protobufjs|@protobufjs)\//, 'protobuf decode and encode (src/envoy/codec)'],
  [/\/node_modules\/(pino|sonic-boom|@pinojs)\//, AUDIT],
  [/\/node_modules\/@grpc\/grpc-js\//, TRANSPORT],
  [/^node:internal\/(http2|net|stream|streams|timers|dns)|^node:(net|http2|timers)$/, TRANSPORT],
];

/**
 * Busy µs per stage over the whole profile, largest first. Each sample is charged to the innermost frame on its stack
 * that has an owner: toolgate's own file (by its path under src/), or a package with a known role (protobufjs to the
 * codecs, pino and sonic-boom to the audit record, grpc-js and Node's HTTP/2, net and stream code to the transport).
 * Native frames and Node's general-purpose modules (crypto, buffer, fs, events) pass the sample up to their caller,
 * so HMAC lands in handoff signing and the audit record's fs.write (`writeString`) in the audit record, even when
 * sonic-boom issues it from its own write callback.
 */
function stages(profile: Profile): Array<[string, number]> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const own = `${REPO_ROOT}/src/`;
  const ownerOf = (url: string): string | undefined => {
    const file = url.replace(/^file:\/\//, '');
    if (file.startsWith(own)) {
      const rel = file.slice(own.length);
      return STAGES.find(([re]) => re.test(rel))?.[1] ?? `other toolgate (${rel})`;
    }
    return PACKAGES.find(([re]) => re.test(file))?.[1];
  };
  const stageOf = new Map<number, string>();
  const resolve = (id: number): string => {
    const known = stageOf.get(id);
    if (known) return known;
    const node = byId.get(id);
    let stage = node?.callFrame.functionName === '(garbage collector)' ? 'garbage collector' : 'Node and V8, other (event loop, microtasks, (program))';
    if (stage !== 'garbage collector') {
      for (let cur = node; cur; cur = byId.get(parent.get(cur.id) ?? -1)) {
        const owner = ownerOf(cur.callFrame.url);
        if (owner) {
          stage = owner;
          break;
        }
      }
    }
    stageOf.set(id, stage);
    return stage;
  };
  const totals = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    if (byId.get(id)?.callFrame.functionName === '(idle)') continue;
    const us = profile.timeDeltas[i + 1] ?? 0;
    const stage = resolve(id);
    totals.set(stage, (totals.get(stage) ?? 0) + us);
  }
  return [...totals.entries()].sort((a, b) => b[1] - a[1]);
}

if (args.profile) await profile(args.profile);
else await compare();
