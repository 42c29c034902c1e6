// Replays recorded Envoy messages (test/fixtures/envoy-<version>/) into toolgate's Envoy adapters in-process: the
// Check handler and the ext_proc stream handler, over the sidecar or gateway exchange. No Envoy, no gRPC server.
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, vi } from 'vitest';
import { parse, stringify } from 'yaml';
import { readFileSync } from 'node:fs';
import { buildRuntime, parseConfigText } from '../../src/app/runtime/load.js';
import { durationMs } from '../../src/core/config/duration.js';
import type { Runtime, RuntimeHolder } from '../../src/core/runtime.js';
import { checkHandler } from '../../src/envoy/check.js';
import { processHandler } from '../../src/envoy/process/stream.js';
import type { AuthzContext, ExchangeProcessor } from '../../src/pipeline/extproc/exchange.js';
import { gatewayExchange } from '../../src/pipeline/extproc/gateway.js';
import { refundingExchange } from '../../src/pipeline/extproc/refund.js';
import { finishedExchange, sidecarExchange } from '../../src/pipeline/extproc/sidecar.js';
import { createMemoryStore } from '../../src/ports/store/memory.js';
import type { Store } from '../../src/ports/store/port.js';
import type { Deps } from '../../src/ports/deps.js';
import { createMetrics } from '../../src/ports/telemetry/metrics.js';
import {
  codecs, configFile, jwksFile, loadScenario, readable, scenarioNames, wireBytes,
  type FixtureMode, type RecordedCheck, type RecordedEgress, type RecordedExchange, type RecordedStream, type Scenario,
} from '../harness/envoy-fixtures.js';

/** The replay's store and metrics (`Deps`), as the app hands them to every stage. */
export interface ReplayDeps extends Deps {
  readonly runtime: Runtime;
  readonly log: Logger;
}

/**
 * The one place the tests build an exchange, as `src/app/server/serve.ts` does: gateway with several backends,
 * sidecar otherwise, wrapped in the refund. Adapt it here when the exchanges' dependencies change.
 */
export function exchangeFor(mode: FixtureMode, deps: ReplayDeps, authz: AuthzContext): ExchangeProcessor {
  const exchange = mode === 'gateway' ? gatewayExchange(deps.runtime, deps.log, authz, deps) : sidecarExchange(deps, authz);
  return refundingExchange(exchange, authz, deps.store, deps.log);
}

/**
 * The runtime the recording ran with, read from the recorded config, with two changes a replay needs: the IdP's
 * recorded public keys from a file instead of its (long gone) URL, and the egress URL pointed at `egressUrl`.
 */
export function recordedRuntime(mode: FixtureMode, egressUrl?: string): Runtime {
  const file = configFile(mode);
  const raw = parse(readFileSync(file, 'utf8')) as { identity: { jwt: Record<string, unknown> }; egress?: { url: string } };
  delete raw.identity.jwt.jwksUri;
  raw.identity.jwt.jwksFile = jwksFile(mode);
  if (raw.egress && egressUrl) raw.egress.url = egressUrl;
  return buildRuntime(parseConfigText(stringify(raw), file), file);
}

/** A decoded message as JSON (bytes as text), the form recorded and replayed answers are compared in. */
export type Decoded = Record<string, unknown>;

export interface StreamReplay {
  /** toolgate's answers, in order, decoded the way Envoy would decode them. */
  readonly answers: Decoded[];
  /** The phase each answer belongs to (the oneof Envoy sent), in order. */
  readonly phases: string[];
  /** True when toolgate ended the stream itself. */
  readonly endedByToolgate: boolean;
}

export interface Replayer extends ReplayDeps {
  check(recorded: RecordedCheck): Promise<Decoded>;
  stream(recorded: RecordedStream): Promise<StreamReplay>;
  /** Egress calls the stub answered (gateway), as `<backend> <HTTP method> <JSON-RPC method>`. */
  readonly served: string[];
  /** What toolgate sent in each egress call the stub answered, in order. */
  readonly received: EgressRequest[];
  /** Egress calls the stub had no recorded answer for. */
  readonly unmatched: string[];
  close(): Promise<void>;
}

const c = codecs();

/** Decoded recorded messages, in the same JSON form as replayed answers. */
export const recordedAnswer = (m: { wire: string }, kind: 'check' | 'process'): Decoded =>
  readable((kind === 'check' ? c.checkResponse : c.processingResponse)(wireBytes(m as never))) as Decoded;

/**
 * A replayer for one scenario: a fresh runtime from the recorded config, a fresh in-memory store, and (gateway) a
 * stub egress on 127.0.0.1 that answers each fan-out call with the answer recorded for the same backend and method.
 * The clock is set to each message's recorded time, so the handoff, the JWT and the session tokens are current.
 */
/**
 * The store reads the clock through `Date.now()` at each call, so it runs on the recorded time the replay sets:
 * a store holding the real `Date.now` would drop revocations once the recorded tokens expire in real time
 * (an hour after recording), and the suite would start failing on its own.
 */
export const recordedClockStore = (): Store => createMemoryStore({ now: () => Date.now() });

export async function replayer(mode: FixtureMode, scenario: Scenario, store: Store = recordedClockStore()): Promise<Replayer> {
  const served: string[] = [];
  const received: EgressRequest[] = [];
  const unmatched: string[] = [];
  const egress = scenario.exchanges.flatMap((e) => e.egress);
  const stub = mode === 'gateway' ? await startEgressStub(egress, { served, received, unmatched }) : undefined;
  const runtime = recordedRuntime(mode, stub?.url);
  const log = pino({ level: 'silent' });
  const deps: ReplayDeps = { runtime, store, metrics: createMetrics(), log };
  const holder: RuntimeHolder = { current: () => runtime, reload: () => false, close: () => undefined, onChange: () => undefined };
  // Only Date is faked: the stub's sockets and the handler's timers run on real time.
  if (!vi.isFakeTimers()) vi.useFakeTimers({ toFake: ['Date'] });

  return {
    ...deps,
    served,
    received,
    unmatched,
    check: (recorded) => new Promise<Decoded>((resolve, reject) => {
      vi.setSystemTime(recorded.request.at);
      const handle = checkHandler(holder, log, deps);
      const call = { request: c.checkRequest(wireBytes(recorded.request)) };
      handle(call as never, (err, reply) => (err ? reject(err) : resolve(readable(c.checkResponse(c.encodeCheckResponse(reply))) as Decoded)));
    }),
    stream: (recorded) => replayStream(mode, deps, recorded),
    async close() {
      await stub?.close();
    },
  };
}

/** A bidi call as toolgate's handler sees it: messages in through 'data', answers out through write and end. */
class FakeCall extends EventEmitter {
  readonly written: Decoded[] = [];
  ended = false;
  write(message: unknown): boolean {
    this.written.push(readable(c.processingResponse(c.encodeProcessingResponse(message))) as Decoded);
    this.emit('changed');
    return true;
  }
  end(): void {
    this.ended = true;
    this.emit('changed');
  }
}

async function replayStream(mode: FixtureMode, deps: ReplayDeps, recorded: RecordedStream): Promise<StreamReplay> {
  const handle = processHandler(
    { exchange: (authz) => exchangeFor(mode, deps, authz), finished: () => finishedExchange(deps.runtime) },
    () => deps.runtime.sessions.keyring, () => durationMs(deps.runtime.config.server.extProcCloseWait), deps.log, deps.metrics,
  );
  const call = new FakeCall();
  handle(call as never);
  const events = recorded.events;
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    if (!event || event.from !== 'envoy') continue;
    // Envoy waits for an answer to each message before it sends the next: so does the replay.
    let expected = 0;
    for (let j = i + 1; j < events.length && events[j]?.from === 'toolgate'; j++) expected++;
    const target = call.written.length + expected;
    vi.setSystemTime(event.at);
    call.emit('data', c.processingRequest(wireBytes(event)));
    // A message Envoy got no answer to (toolgate ended the stream instead): wait for the end, not for an answer.
    await until(() => (expected > 0 ? call.written.length >= target : call.ended), call, 5_000);
  }
  // Envoy half-closes a stream at the end of its exchange at the latest: toolgate waits for that after a routed call's
  // buffered body (a recording from before it did ends with toolgate's end instead).
  if (recorded.endedBy !== 'open' && !call.ended) call.emit('end');
  await until(() => call.ended, call, 5_000).catch(() => undefined);
  const phases = call.written.map((a) => String(a.response ?? Object.keys(a).find((k) => k !== 'mode_override' && k !== 'dynamic_metadata') ?? ''));
  return { answers: call.written, phases, endedByToolgate: call.ended && recorded.endedBy !== 'envoy' };
}

async function until(done: () => boolean, call: FakeCall, timeoutMs: number): Promise<void> {
  if (done()) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { call.off('changed', check); reject(new Error(`no answer from toolgate within ${timeoutMs} ms`)); }, timeoutMs);
    function check(): void {
      if (!done()) return;
      clearTimeout(timer);
      call.off('changed', check);
      resolve();
    }
    call.on('changed', check);
  });
}

/** Answers each egress call with the recorded answer for the same backend, HTTP method and JSON-RPC method, once. */
export interface EgressRequest {
  readonly key: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

async function startEgressStub(recorded: readonly RecordedEgress[], log: { served: string[]; received: EgressRequest[]; unmatched: string[] }): Promise<{ url: string; close(): Promise<void> }> {
  const { served, received, unmatched } = log;
  const unused = [...recorded];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (b: Buffer) => chunks.push(b));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const key = egressKey(String(req.headers['x-toolgate-backend']), req.method ?? '', body);
      const at = unused.findIndex((e) => egressKey(e.headers['x-toolgate-backend'] ?? '', e.method, e.body) === key);
      const match = at === -1 ? undefined : unused.splice(at, 1)[0];
      if (!match) {
        unmatched.push(key);
        res.writeHead(502, { 'content-type': 'text/plain' }).end('no recorded answer');
        return;
      }
      served.push(key);
      received.push({ key, headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])), body });
      const headers = Object.fromEntries(Object.entries(match.responseHeaders).filter(([k]) => !['content-length', 'transfer-encoding', 'connection', 'date'].includes(k)));
      res.writeHead(match.status, headers).end(match.responseBody);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export function egressKey(backend: string, method: string, body: string): string {
  let rpc = '';
  try {
    rpc = String((JSON.parse(body) as { method?: unknown }).method ?? '');
  } catch {
    rpc = '';
  }
  return `${backend} ${method}${rpc ? ` ${rpc}` : ''}`;
}

/** What replaying one whole scenario produced: per recorded exchange, toolgate's Check answer and stream answers. */
export interface ScenarioReplay {
  readonly scenario: Scenario;
  readonly replay: Replayer;
  readonly exchanges: ReadonlyArray<{ readonly check: Decoded | undefined; readonly stream: StreamReplay | undefined }>;
}

/** Replays every exchange of a scenario in order (Check first, then its stream), each against a fresh runtime and store. */
export async function replayScenario(mode: FixtureMode, scenario: Scenario): Promise<ScenarioReplay> {
  const replay = await replayer(mode, scenario);
  const exchanges: Array<{ check: Decoded | undefined; stream: StreamReplay | undefined }> = [];
  for (const e of scenario.exchanges) {
    const check = e.check ? await replay.check(e.check) : undefined;
    const stream = e.stream ? await replay.stream(e.stream) : undefined;
    exchanges.push({ check, stream });
  }
  await replay.close();
  return { scenario, replay, exchanges };
}

/** Sets the clock to a recorded time (for a follow-up call after a replay); only Date is faked. */
export function atRecordedTime(ms: number): void {
  if (!vi.isFakeTimers()) vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(ms);
}

const UNSTABLE = '<differs per run>';
const HANDOFF_PER_CALL: ReadonlySet<string> = new Set(['decision_id', 'issued_at', 'handoff_mac']);
const isSealedToken = (v: unknown): boolean => typeof v === 'string' && v.startsWith('eyJ') && v.split('.').length === 5;

/**
 * An answer with the values that differ on every run blanked out, so the rest can be compared with the recording:
 * the handoff's decision id, issue time and MAC (the MAC covers the other two), a denial's decision id (its header
 * and where the body repeats it), and a session token sealed in this run (random IV and token id). A token the
 * request presented is kept: handing it back is deterministic.
 */
export function stable(answer: Decoded, presentedToken?: string): Decoded {
  const decisionIds = new Set<string>();
  const walk = (value: unknown, key?: string): unknown => {
    if (Array.isArray(value)) return value.map((v) => walk(v));
    if (typeof value !== 'object' || value === null) return value;
    const record = value as Record<string, unknown>;
    const header = record.header as { key?: string; value?: string; raw_value?: string } | undefined;
    if (header && typeof header.key === 'string') {
      const v = header.raw_value ?? header.value;
      if (header.key === 'x-toolgate-decision-id' && typeof v === 'string') decisionIds.add(v);
      const unstable = header.key === 'x-toolgate-decision-id' || (header.key === 'mcp-session-id' && isSealedToken(v) && v !== presentedToken);
      if (unstable) return { ...record, header: { ...header, ...(header.raw_value !== undefined ? { raw_value: UNSTABLE } : { value: UNSTABLE }) } };
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(record)) out[k] = key === 'fields' && HANDOFF_PER_CALL.has(k) ? UNSTABLE : walk(v, k);
    return out;
  };
  const walked = walk(answer) as Decoded;
  let text = JSON.stringify(walked);
  for (const id of decisionIds) text = text.replaceAll(id, UNSTABLE);
  return JSON.parse(text) as Decoded;
}

/** The replayed answer for a phase (`request_headers`, `response_body`, `immediate_response`, …); throws when there is none. */
export function answerFor(stream: StreamReplay | undefined, phase: string): Decoded {
  const found = stream?.answers.find((a) => a.response === phase);
  if (!found) throw new Error(`toolgate gave no ${phase} answer (it answered ${stream?.phases.join(', ') ?? 'nothing'})`);
  return found;
}

/** The headers an answer sets (a continue's header mutation or an immediate response's headers), as a record. */
export function headersSet(answer: Decoded): Record<string, string> {
  const phase = answer.response as string;
  const body = answer[phase] as { response?: { header_mutation?: unknown }; headers?: unknown } | undefined;
  const mutation = (phase === 'immediate_response' ? body?.headers : body?.response?.header_mutation) as { set_headers?: Array<{ header: { key: string; raw_value?: string; value?: string } }> } | undefined;
  return Object.fromEntries((mutation?.set_headers ?? []).map((h) => [h.header.key, h.header.raw_value ?? h.header.value ?? '']));
}

/** The common response of a continue answer (`status`, `body_mutation`, `clear_route_cache`, …). */
export function commonOf(answer: Decoded): Record<string, unknown> {
  return ((answer[answer.response as string] as { response?: Record<string, unknown> } | undefined)?.response) ?? {};
}

/** A recorded message Envoy sent in a phase, decoded (e.g. the backend's response headers as Envoy forwarded them). */
export function envoySent(stream: RecordedStream | undefined, phase: string): Decoded {
  for (const e of stream?.events ?? []) {
    if (e.from !== 'envoy') continue;
    const decoded = c.processingRequest(wireBytes(e)) as Decoded;
    if (decoded.request === phase) return decoded;
  }
  throw new Error(`Envoy sent no ${phase} in this recorded stream`);
}

/** Header record of a recorded request_headers / response_headers message. */
export function envoyHeaders(stream: RecordedStream | undefined, phase: 'request_headers' | 'response_headers'): Record<string, string> {
  const m = envoySent(stream, phase)[phase] as { headers?: { headers?: Array<{ key: string; raw_value?: Buffer; value?: string }> } };
  return Object.fromEntries((m.headers?.headers ?? []).map((h) => [h.key, h.raw_value && h.raw_value.length > 0 ? Buffer.from(h.raw_value).toString('latin1') : (h.value ?? '')]));
}

/** The decoded CheckRequest of a recorded Check. */
export const checkRequestOf = (check: RecordedCheck): Decoded => c.checkRequest(wireBytes(check.request)) as Decoded;

/** One row per recorded Check and per recorded stream of a mode: `[title, scenario, exchange index, kind]`. */
export function asRecordedRows(mode: FixtureMode): Array<readonly [string, string, number, 'check' | 'stream']> {
  return scenarioNames(mode).flatMap((name) => loadScenario(mode, name).exchanges.flatMap((e, i) => [
    ...(e.check ? [[`${name} · Check`, name, i, 'check'] as const] : []),
    ...(e.stream ? [[`${name} · ext_proc stream`, name, i, 'stream'] as const] : []),
  ]));
}

/** The replayed answers of one recorded Check or stream, and the recorded ones, both with per-run values blanked. */
export function asRecorded(replay: ScenarioReplay, index: number, kind: 'check' | 'stream'): { got: unknown; want: unknown } {
  const recorded = replay.scenario.exchanges[index];
  const got = replay.exchanges[index];
  if (!recorded || !got) throw new Error(`${replay.scenario.name} has no exchange ${index}`);
  if (kind === 'check') {
    if (!recorded.check || !got.check) throw new Error(`${replay.scenario.name} #${index} has no Check`);
    return { got: stable(got.check), want: stable(recordedAnswer(recorded.check.response, 'check')) };
  }
  const token = recorded.stream && envoyHeaders(recorded.stream, 'request_headers')['mcp-session-id'];
  return {
    got: got.stream?.answers.map((a) => stable(a, token)),
    want: (recorded.stream?.events ?? []).filter((e) => e.from === 'toolgate').map((e) => stable(recordedAnswer(e, 'process'), token)),
  };
}

/** The ext_authz metadata a Check answer hands ext_proc, as plain values. */
export function metadataOf(check: Decoded | undefined): Record<string, unknown> {
  const fields = ((check?.dynamic_metadata as { fields?: Record<string, Record<string, unknown>> } | undefined)?.fields) ?? {};
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.stringValue ?? v.numberValue ?? v.boolValue ?? v.listValue ?? v.structValue]));
}

/** The processing mode an answer asks Envoy for from now on. */
export const modeOf = (answer: Decoded): Record<string, string> | undefined => answer.mode_override as Record<string, string> | undefined;

export interface SingleExchange {
  readonly recorded: RecordedExchange;
  readonly check: Decoded | undefined;
  readonly stream: StreamReplay | undefined;
  readonly replay: ScenarioReplay;
}

/** A scenario that is one client request (all recorded ones are), replayed. */
export function single(replays: ReadonlyMap<string, ScenarioReplay>, mode: FixtureMode, name: string): SingleExchange {
  const replay = replays.get(name);
  if (!replay) throw new Error(`no recorded ${mode} scenario "${name}": run node scripts/record-envoy-fixtures.mjs`);
  const [recorded, ...more] = replay.scenario.exchanges;
  const got = replay.exchanges[0];
  if (!recorded || !got || more.length > 0) throw new Error(`${mode} scenario "${name}" should be one client request, found ${replay.scenario.exchanges.length}`);
  return { recorded, check: got.check, stream: got.stream, replay };
}

/** One row of an exchange spec table: in this scenario and Envoy phase, what toolgate must answer. */
export interface SpecRow {
  readonly scenario: string;
  readonly phase: string;
  /** What toolgate must answer, as a sentence. */
  readonly answer: string;
  verify(): void | Promise<void>;
}

/**
 * Replays every recorded scenario of a mode once, before the suite's tests, and puts the real clock back after:
 * the map the tests read, filled by the suite's beforeAll.
 */
export function useReplays(mode: FixtureMode): Map<string, ScenarioReplay> {
  const replays = new Map<string, ScenarioReplay>();
  beforeAll(async () => {
    for (const name of scenarioNames(mode)) replays.set(name, await replayScenario(mode, loadScenario(mode, name)));
  }, 60_000);
  afterAll(() => {
    vi.useRealTimers();
  });
  return replays;
}
