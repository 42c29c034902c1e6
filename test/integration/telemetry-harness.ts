// For the telemetry suites: an in-process OTLP/HTTP (JSON) receiver, the built toolgate with tracing settings, Prometheus text.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { stringify } from 'yaml';
import { createKeyring } from '../../src/core/session/keys.js';
import { startTestIdp, type TestIdp } from '../harness/jwt.js';
import { ADMIN_TOKEN_FILE, startToolgate, type Toolgate } from '../harness/toolgate.js';

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

/** The built toolgate (test/harness/toolgate.ts) with the suites' IdP and config. */
export interface TelemetryToolgate extends Toolgate {
  readonly idp: TestIdp;
  /** A valid token for SUBJECT with the `refunds` task. */
  token(): Promise<string>;
}

const SESSION_KEY = { kid: 'k1', secret: randomBytes(32).toString('base64url') };
/** toolgate's keyring in these suites, so a test can sign the ext_authz → ext_proc handoff as its Check would. */
export const keyring = createKeyring({ current: SESSION_KEY });

/** The config the suites run with: `refunds` may look up charges and refund up to 100. */
export function configText(issuer: string): string {
  return stringify({
    resource: RESOURCE,
    server: { host: '127.0.0.1', shutdownGrace: '1s', adminTokenFile: ADMIN_TOKEN_FILE },
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

/** toolgate on free ports; `env` is added to an environment without any inherited OTEL_* variable. */
export async function startTelemetryToolgate(env: Record<string, string>): Promise<TelemetryToolgate> {
  const idp = await startTestIdp({ serve: false, subject: SUBJECT, audience: RESOURCE });
  const inherited = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('OTEL_')).map((k) => [k, undefined]));
  const toolgate = await startToolgate({
    config: configText(idp.issuer),
    prepare: (dir) => idp.writeJwksFile(join(dir, 'jwks.json')),
    env: { ...inherited, ...env },
  });
  return { ...toolgate, idp, token: () => idp.mint({ authorized_tasks: ['refunds'] }) };
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
