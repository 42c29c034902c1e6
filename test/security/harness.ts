// The security suite's stack: instrumented backends ← the real pinned Envoy (rendered sidecar or gateway bootstrap)
// ← the built toolgate, with a test IdP. A case sends what an attacker would and asserts both what the client saw
// and, through the journal, that no backend executed anything forbidden.
//
//   const s = await startSecurityStack({ mode: 'gateway', backend: 'express' });
//   const session = await s.initialize();                       // raw initialize; returns the client's Mcp-Session-Id
//   const r = await s.post(body, { session, headers: { … } });  // raw POST with the default bearer token
//   expect(r.status).toBe(415); expect(s.journal.tools()).toEqual([]);
//   s.tool('refund') is 'billing.refund' in gateway mode and 'refund' in sidecar mode.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { RawConfig } from '../../src/core/config/schema.js';
import { startEnvoy, type EnvoyInstance } from '../harness/envoy.js';
import { REPO_ROOT } from '../harness/repo.js';
import { startTestIdp, type TestIdp } from '../harness/jwt.js';
import { freePort } from '../harness/ports.js';
import { newSessionKey } from '../e2e/helpers/gateway-stack.js';
import { toolgateConfigText, type TasksConfig, type ToolgateConfigOptions } from '../e2e/helpers/toolgate.js';
import { ADMIN_TOKEN_FILE, startToolgate, type Toolgate } from '../harness/toolgate.js';
import { Journal, startInstrumentedBackend, ToolDefinitions, type BackendKind, type InstrumentedBackend } from './backend.js';

export type Mode = 'sidecar' | 'gateway';

export const MODES: readonly Mode[] = ['sidecar', 'gateway'];
export const BACKENDS: readonly BackendKind[] = ['express', 'http'];
/** Every mode × backend pair, for `describe.each`. */
export const MATRIX: ReadonlyArray<{ mode: Mode; backend: BackendKind }> = MODES.flatMap((mode) => BACKENDS.map((backend) => ({ mode, backend })));

export const PROTOCOL = '2025-06-18';

/** The task every case's default token carries: some tools, one prompt, public resources only. */
export function securityTasks(mode: Mode): TasksConfig {
  const p = (name: string) => (mode === 'gateway' ? `billing.${name}` : name);
  return {
    limited: {
      description: 'Look up charges and refund up to the token limit; read public documents',
      tools: [
        { tool: p('lookup_charge') },
        { tool: p('echo') },
        { tool: p('refund'), when: 'mcp.arguments.amount <= jwt.refund_limit', message: 'Refunds above {{jwt.refund_limit}} need a human approver. Do not retry.' },
      ],
      prompts: [p('refund_policy')],
      resources: ['file:///public/*'],
    },
  };
}
export const SECURITY_CLAIMS = { authorized_tasks: ['limited'], refund_limit: 100 };

export interface SecurityStackOptions {
  readonly mode: Mode;
  readonly backend: BackendKind;
  /** Default `securityTasks(mode)`. */
  readonly tasks?: TasksConfig;
  /** Top-level config sections merged over the generated ones. */
  readonly extra?: Partial<RawConfig>;
  /** Gateway: serve the GET stream with toolgate's event-stream server (`server.eventsPort`); off: gateway GET is 405. */
  readonly eventStream?: boolean;
  /** A variant of the mode's bootstrap (`templateVariant`) for a case that needs Envoy to differ in one setting. */
  readonly envoyTemplate?: string;
  /** Settings merged over the generated `identity.jwt` (e.g. `jwksTimeout`). */
  readonly jwt?: ToolgateConfigOptions['jwt'];
}

export interface PostOptions {
  /** The client's Mcp-Session-Id. */
  readonly session?: string;
  /** Headers added or overriding the defaults (content-type, accept, authorization, mcp-protocol-version). */
  readonly headers?: Record<string, string>;
  /** Bearer token; default a token with SECURITY_CLAIMS. `null` sends none. */
  readonly token?: string | null;
  /** Aborts the request (a client that goes away mid-request). */
  readonly signal?: AbortSignal;
}

export interface RawReply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The JSON-RPC messages of the reply: the JSON body, or every `data:` event of an SSE body. */
  readonly messages: unknown[];
}

export interface SecurityStack {
  readonly mode: Mode;
  readonly backend: BackendKind;
  readonly endpoint: string;
  readonly envoy: EnvoyInstance;
  readonly idp: TestIdp;
  readonly toolgate: Toolgate;
  readonly journal: Journal;
  /** Flips the backends' tool definitions (every replica's): a rug pull. */
  readonly definitions: ToolDefinitions;
  /** The name clients use for a backend tool or prompt: prefixed in gateway mode. */
  tool(name: string): string;
  /** A token with SECURITY_CLAIMS (or these claims). */
  token(claims?: Record<string, unknown>): Promise<string>;
  /** Initializes a session with raw requests and returns the client-facing Mcp-Session-Id. */
  initialize(token?: string): Promise<string>;
  post(body: string | Uint8Array, opts?: PostOptions): Promise<RawReply>;
  /** Any HTTP method, same defaults as post. */
  send(method: string, body: string | Uint8Array | undefined, opts?: PostOptions): Promise<RawReply>;
  stop(): Promise<void>;
}

/** examples/gateway.yaml's backends, egress and session sections, with the test's egress port and a fresh key. */
function gatewaySections(egressPort: number): Partial<RawConfig> {
  const example = parse(readFileSync(join(REPO_ROOT, 'examples', 'gateway.yaml'), 'utf8')) as RawConfig;
  return {
    backends: example.backends,
    egress: { ...example.egress, url: `http://127.0.0.1:${egressPort}` },
    session: { ttl: '1h', keys: [newSessionKey('k1')] },
  };
}

export async function startSecurityStack(opts: SecurityStackOptions): Promise<SecurityStack> {
  const cleanup: Array<() => Promise<unknown>> = [];
  const unwind = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
  };
  try {
    const journal = new Journal();
    const definitions = new ToolDefinitions();
    const start = async (replica: string, resources = true): Promise<InstrumentedBackend> => {
      const b = await startInstrumentedBackend({ kind: opts.backend, replica, journal, resources, definitions });
      cleanup.push(() => b.stop());
      return b;
    };
    const grpcPort = await freePort();
    const adminPort = await freePort();
    let envoy: EnvoyInstance;
    let extra: Partial<RawConfig> = {};
    if (opts.mode === 'sidecar') {
      const backend = await start('backend');
      envoy = await startEnvoy({ ...(opts.envoyTemplate ? { template: opts.envoyTemplate } : {}), name: 'envoy (sidecar.yaml)', vars: { TOOLGATE_GRPC_PORT: grpcPort, BACKEND_PORT: backend.port } });
    } else {
      const [b1, b2] = [await start('b1'), await start('b2')];
      const [i1, i2] = [await start('i1', false), await start('i2', false)];
      const egressPort = await freePort();
      const eventsPort = await freePort();
      envoy = await startEnvoy({
        template: opts.envoyTemplate ?? join(REPO_ROOT, 'envoy', 'gateway.yaml'),
        name: 'envoy (gateway.yaml)',
        vars: {
          TOOLGATE_GRPC_PORT: grpcPort,
          EGRESS_PORT: egressPort,
          TOOLGATE_EVENTS_PORT: eventsPort,
          BILLING_1_ADDRESS: '127.0.0.1', BILLING_1_PORT: b1.port,
          BILLING_2_ADDRESS: '127.0.0.1', BILLING_2_PORT: b2.port,
          INVENTORY_1_ADDRESS: '127.0.0.1', INVENTORY_1_PORT: i1.port,
          INVENTORY_2_ADDRESS: '127.0.0.1', INVENTORY_2_PORT: i2.port,
        },
      });
      extra = gatewaySections(egressPort);
      // toolgate's event-stream server merges the backends' GET streams (list_changed reaches gateway clients there).
      if (opts.eventStream) extra.server = { host: '127.0.0.1', grpcPort, adminPort, shutdownGrace: '5s', adminTokenFile: ADMIN_TOKEN_FILE, eventsPort };
    }
    cleanup.push(() => envoy.stop());
    const endpoint = `${envoy.url}/mcp`;
    const idp = await startTestIdp({ audience: endpoint });
    cleanup.push(() => idp.stop());
    const toolgate = await startToolgate({
      config: (ports) => toolgateConfigText({ envoyUrl: envoy.url, idp, tasks: opts.tasks ?? securityTasks(opts.mode), extra: { ...extra, ...opts.extra }, ...(opts.jwt ? { jwt: opts.jwt } : {}) }, ports),
      grpcPort,
      adminPort,
    });
    cleanup.push(() => toolgate.dispose());

    const defaultToken = await idp.mint(SECURITY_CLAIMS);
    const send = rawSender(endpoint, defaultToken, { 'mcp-protocol-version': PROTOCOL });
    const stack: SecurityStack = {
      mode: opts.mode,
      backend: opts.backend,
      endpoint,
      envoy,
      idp,
      toolgate,
      journal,
      definitions,
      tool: (name) => (opts.mode === 'gateway' ? `billing.${name}` : name),
      token: (claims) => (claims ? idp.mint(claims) : Promise.resolve(defaultToken)),
      async initialize(token) {
        const init = JSON.stringify({
          jsonrpc: '2.0', id: 0, method: 'initialize',
          params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'security-suite', version: '1.0.0' } },
        });
        const reply = await send('POST', init, { token });
        const session = reply.headers.get('mcp-session-id');
        if (reply.status !== 200 || !session) throw new Error(`initialize failed: ${reply.status} ${reply.text}`);
        const done = await send('POST', JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), { token, session });
        if (done.status !== 202) throw new Error(`notifications/initialized: ${done.status} ${done.text}`);
        return session;
      },
      post: (body, o) => send('POST', body, o),
      send,
      stop: unwind,
    };
    return stack;
  } catch (err) {
    await unwind();
    throw err;
  }
}

/**
 * One stack for the enclosing describe block: started and initialized before its tests (`ready` hands both over),
 * stopped after them.
 */
export function useSecurityStack(opts: SecurityStackOptions, ready: (stack: SecurityStack, session: string) => void): void {
  let stack: SecurityStack | undefined;
  beforeAll(async () => {
    stack = await startSecurityStack(opts);
    ready(stack, await stack.initialize());
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });
}

/**
 * Sends one raw HTTP request to the MCP endpoint as a client would, with `defaultToken` unless the options say
 * otherwise (`token: null` sends none) and `base` headers under the caller's; the reply's JSON-RPC messages are read
 * from a JSON body or from SSE `data:` lines.
 */
export function rawSender(endpoint: string, defaultToken: string, base: Readonly<Record<string, string>> = {}) {
  return async (method: string, body: string | Uint8Array | undefined, o: PostOptions = {}): Promise<RawReply> => {
    const token = o.token === undefined ? defaultToken : o.token;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...base,
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(o.session === undefined ? {} : { 'mcp-session-id': o.session }),
      ...o.headers,
    };
    const res = await fetch(endpoint, { method, headers, body, ...(o.signal ? { signal: o.signal } : {}) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, messages: messagesOf(res.headers.get('content-type'), text) };
  };
}

function messagesOf(contentType: string | null, text: string): unknown[] {
  const parseOne = (t: string): unknown[] => {
    try {
      return [JSON.parse(t) as unknown];
    } catch {
      return [];
    }
  };
  if (contentType?.startsWith('text/event-stream')) {
    return text.split('\n').filter((l) => l.startsWith('data:')).flatMap((l) => parseOne(l.slice(5).trim()));
  }
  return parseOne(text);
}

/** A JSON-RPC request body. */
export function rpc(method: string, params: Record<string, unknown>, id: number | string = 1): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method, params });
}
