// For the telemetry suites: an in-process OTLP/HTTP (JSON) receiver, the built toolgate in a child process, a Check client.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { stringify } from 'yaml';
import { envoyServices } from '../../src/envoy/protos.js';
import { createKeyring } from '../../src/core/session/keys.js';
import { fromStruct, type Struct } from '../../src/envoy/struct.js';
import { startTestIdp, type TestIdp } from '../harness/jwt.js';
import { freePort } from '../harness/ports.js';
import { startProcess, type ManagedProcess } from '../harness/process.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILT_CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');

export const RESOURCE = 'https://mcp.toolgate.test/mcp';
export const SUBJECT = 'agent-7';

// ── OTLP receiver ────────────────────────────────────────────────────────────

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly name: string;
  /** OTLP SpanKind: 2 is SERVER. */
  readonly kind: number;
  readonly attributes: Record<string, unknown>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  readonly status: { code: number; message?: string };
  readonly events: Array<{ name: string; attributes: Record<string, unknown> }>;
  readonly startNanos: bigint;
  readonly endNanos: bigint;
  readonly resource: Record<string, unknown>;
}

export interface OtlpReceiver {
  readonly url: string;
  spans(): ReceivedSpan[];
  /** Number of export requests received, whatever their content. */
  posts(): number;
  /** The first span matching `pred`, waiting for the exporter's next batch if needed. */
  waitForSpan(pred: (s: ReceivedSpan) => boolean, timeoutMs?: number): Promise<ReceivedSpan>;
  stop(): Promise<void>;
}

type OtlpValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean; arrayValue?: { values?: OtlpValue[] } };
type OtlpAttribute = { key: string; value?: OtlpValue };

/** OTLP/JSON carries ids as hex; accept base64 too, in case an exporter sends the protobuf-JSON mapping. */
function hexId(id: unknown): string | undefined {
  if (typeof id !== 'string' || id === '') return undefined;
  return /^[0-9a-f]+$/i.test(id) && (id.length === 32 || id.length === 16) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex');
}

function plain(v: OtlpValue | undefined): unknown {
  if (v === undefined) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(plain);
  return undefined;
}

function attributes(list: OtlpAttribute[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((a) => [a.key, plain(a.value)]));
}

/** Flattens one ExportTraceServiceRequest (JSON) into spans. */
function parseExport(body: any): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body?.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: hexId(s.traceId) ?? '',
          spanId: hexId(s.spanId) ?? '',
          parentSpanId: hexId(s.parentSpanId),
          name: s.name,
          kind: Number(s.kind ?? 0),
          attributes: attributes(s.attributes),
          status: { code: Number(s.status?.code ?? 0), message: s.status?.message },
          events: (s.events ?? []).map((e: any) => ({ name: e.name, attributes: attributes(e.attributes) })),
          startNanos: BigInt(s.startTimeUnixNano ?? 0),
          endNanos: BigInt(s.endTimeUnixNano ?? 0),
          resource,
        });
      }
    }
  }
  return out;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  let posts = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      posts++;
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      if (!String(req.headers['content-type'] ?? '').includes('json')) {
        // Only http/json is configured by these tests; anything else is a wiring mistake worth seeing.
        res.writeHead(415, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      spans.push(...parseExport(JSON.parse(raw.toString('utf8'))));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    spans: () => [...spans],
    posts: () => posts,
    async waitForSpan(pred, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const hit = spans.find(pred);
        if (hit) return hit;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`no matching span within ${timeoutMs} ms; received: ${spans.map((s) => `${s.name} (${s.traceId})`).join(', ') || 'none'}`);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

// ── trace context ────────────────────────────────────────────────────────────

export interface TraceParent {
  readonly traceId: string;
  readonly spanId: string;
  readonly header: string;
}

export function newTraceParent(): TraceParent {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, header: `00-${traceId}-${spanId}-01` };
}

// ── toolgate ─────────────────────────────────────────────────────────────────

export interface RunningToolgate {
  readonly grpcPort: number;
  readonly adminUrl: string;
  readonly configPath: string;
  readonly idp: TestIdp;
  readonly process: ManagedProcess;
  /** A valid token for SUBJECT with the `refunds` task. */
  token(): Promise<string>;
  stop(): Promise<void>;
}

const SESSION_KEY = { kid: 'k1', secret: randomBytes(32).toString('base64url') };
/** toolgate's keyring in these suites, so a test can sign the ext_authz → ext_proc handoff as its Check would. */
export const keyring = createKeyring({ current: SESSION_KEY });

/** The config the suites run with: `refunds` may look up charges and refund up to 100. */
export function configText(issuer: string): string {
  return stringify({
    resource: RESOURCE,
    server: { host: '127.0.0.1', shutdownGrace: '1s', adminTokenFile: 'admin-token' },
    session: { keys: [SESSION_KEY] },
    identity: { jwt: { issuer, jwksFile: 'jwks.json', algorithms: ['RS256'] }, task: { claim: 'authorized_tasks' } },
    tasks: {
      refunds: {
        tools: [
          { tool: 'lookup_charge' },
          { tool: 'refund', when: 'mcp.arguments.amount <= 100' },
          // A condition in dry-run: its refusals are forwarded and carried by the span and the dry-run metric.
          { tool: 'wire', when: 'mcp.arguments.amount <= 100', mode: 'dry-run' },
        ],
      },
    },
  });
}

/** Starts `node bin/toolgate.js serve` on free ports; `env` is added to an environment without any inherited OTEL_* variable. */
export async function startToolgate(env: Record<string, string>): Promise<RunningToolgate> {
  if (!existsSync(BUILT_CLI)) {
    throw new Error(`${BUILT_CLI} is missing: the telemetry tests run the built toolgate. Run \`npm run build\` first (\`npm test\` does it in pretest).`);
  }
  const idp = await startTestIdp({ serve: false, subject: SUBJECT, audience: RESOURCE });
  const dir = await mkdtemp(join(tmpdir(), 'toolgate-telemetry-'));
  await idp.writeJwksFile(join(dir, 'jwks.json'));
  const configPath = join(dir, 'toolgate.yaml');
  await writeFile(configPath, configText(idp.issuer));
  await writeFile(join(dir, 'admin-token'), `${randomBytes(32).toString('base64url')}\n`);
  const grpcPort = await freePort();
  const adminPort = await freePort();
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const inherited = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('OTEL_')).map((k) => [k, undefined]));
  const child = await startProcess({
    name: `toolgate :${grpcPort}`,
    command: process.execPath,
    args: [join(REPO_ROOT, 'bin', 'toolgate.js'), 'serve', '--config', configPath, '--host', '127.0.0.1', '--grpc-port', String(grpcPort), '--admin-port', String(adminPort)],
    env: { ...inherited, TOOLGATE_LOG_LEVEL: 'info', ...env },
    readyUrl: `${adminUrl}/readyz`,
    readyTimeoutMs: 20_000,
    stopTimeoutMs: 10_000,
  });
  return {
    grpcPort,
    adminUrl,
    configPath,
    idp,
    process: child,
    token: () => idp.mint({ authorized_tasks: ['refunds'] }),
    async stop() {
      await child.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ── ext_authz Check client ───────────────────────────────────────────────────

export interface CheckHttp {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Record<string, string>;
  /** A JSON-RPC message, serialized into `raw_body`. */
  readonly body?: unknown;
}

export interface CheckAnswer {
  readonly grpcCode: number;
  /** HTTP status Envoy would send on a denial; undefined on allow. */
  readonly httpStatus: number | undefined;
  readonly metadata: Record<string, unknown>;
}

export function checkClient(port: number) {
  const Ctor = grpc.makeClientConstructor(envoyServices().authz, 'Authorization');
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    Check(req: unknown, cb: (err: grpc.ServiceError | null, res: any) => void): void;
  };
  return {
    check(http: CheckHttp): Promise<CheckAnswer> {
      const request = {
        attributes: {
          request: {
            http: {
              method: http.method ?? 'POST',
              path: http.path ?? '/mcp',
              headers: { ...(http.body !== undefined ? { 'content-type': 'application/json' } : {}), ...http.headers },
              ...(http.body !== undefined ? { raw_body: Buffer.from(JSON.stringify(http.body)) } : {}),
            },
          },
        },
      };
      return new Promise((ok, fail) => client.Check(request, (err, res) => {
        if (err) return fail(err);
        ok({
          grpcCode: Number(res.status?.code ?? 0),
          httpStatus: res.denied_response ? Number(res.denied_response.status?.code) : undefined,
          metadata: fromStruct(res.dynamic_metadata as Struct | undefined),
        });
      }));
    },
    close: () => client.close(),
  };
}

/** A `tools/call` JSON-RPC request. */
export function toolCall(id: number, name: string, args: Record<string, unknown>, meta?: Record<string, unknown>): unknown {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) } };
}

// ── Prometheus text ──────────────────────────────────────────────────────────

/** The value of the sample `name{labels}` (labels matched exactly, in any order), or undefined. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort().join(',');
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? '').match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g)?.sort().join(',') ?? '';
    if (have === want) return Number(m[3]);
  }
  return undefined;
}

export async function scrape(adminUrl: string): Promise<{ status: number; contentType: string; text: string }> {
  const res = await fetch(`${adminUrl}/metrics`);
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text() };
}
