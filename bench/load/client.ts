// The load generator, a process of its own: undici Pools with keep-alive, a fixed number of closed-loop clients per
// target, prepared JSON-RPC bodies sent as raw POSTs (no MCP SDK client, to keep the client's cost low).
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import type { FromClient, RunResult, Target, ToClient } from './protocol.js';

const PROTOCOL_2025 = '2025-11-25';
const PROTOCOL_2026 = '2026-07-28';
/** Every scenario calls an echo tool (its target names which), with a small argument. */
const ECHO_TEXT = 'hello from the toolgate benchmark';

/** JSON-RPC ids are unique across the whole run: the 2026 stand-in serves every client on one internal session. */
let nextId = 1;
const callBody = (id: number, tool: string) => `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"${tool}","arguments":{"text":"${ECHO_TEXT}"}}}`;
/** A 2026-07-28 request states its revision and the client's capabilities in `_meta` (Envoy's MCP filter checks it). */
const META_2026 = `{"io.modelcontextprotocol/protocolVersion":"${PROTOCOL_2026}","io.modelcontextprotocol/clientCapabilities":{}}`;
const callBody2026 = (id: number, tool: string) => `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"${tool}","arguments":{"text":"${ECHO_TEXT}"},"_meta":${META_2026}}}`;

interface Endpoint {
  readonly target: Target;
  readonly pool: Pool;
  /** One per client: flat header lists (undici's cheapest form; each 2025 client has its own session) and its tools. */
  readonly clients: readonly ClientState[];
}

interface ClientState {
  readonly headers: string[];
  /** The tools this client calls in turn; 2026 clients call one tool (it is in their Mcp-Name header). */
  readonly tools: readonly string[];
  calls: number;
}

const endpoints = new Map<string, Endpoint>();

function send(msg: FromClient): void {
  process.send?.(msg);
}

process.on('message', (msg: ToClient) => {
  handle(msg).catch((err: unknown) => send({ type: 'failed', error: err instanceof Error ? err.stack ?? err.message : String(err) }));
});
process.once('disconnect', () => void close());

async function handle(msg: ToClient): Promise<void> {
  if (msg.type === 'init') {
    for (const target of msg.targets) endpoints.set(target.id, await connect(target, msg.token));
    send({ type: 'ready' });
  } else if (msg.type === 'run') {
    const endpoint = endpoints.get(msg.targetId);
    if (!endpoint) throw new Error(`unknown target ${msg.targetId}`);
    send(await run(endpoint, msg.durationMs));
  } else {
    await close();
  }
}

async function close(): Promise<void> {
  await Promise.allSettled([...endpoints.values()].map((e) => e.pool.close()));
  process.exit(0);
}

async function connect(target: Target, token: string): Promise<Endpoint> {
  const pool = new Pool(target.origin, { connections: target.concurrency, pipelining: 1, keepAliveTimeout: 120_000 });
  const base = ['content-type', 'application/json', 'accept', 'application/json, text/event-stream', 'authorization', `Bearer ${token}`];
  const clients: ClientState[] = [];
  for (let i = 0; i < target.concurrency; i++) {
    if (target.protocol === '2026') {
      const tool = target.tools[0] as string;
      clients.push({ headers: [...base, 'mcp-protocol-version', PROTOCOL_2026, 'mcp-method', 'tools/call', 'mcp-name', tool], tools: [tool], calls: 0 });
    } else {
      const session = await openSession(pool, target.path, base);
      // Clients start at different tools, so at every instant the calls in flight are spread over them.
      clients.push({ headers: [...base, 'mcp-protocol-version', PROTOCOL_2025, 'mcp-session-id', session], tools: target.tools, calls: i });
    }
  }
  // Each client calls each of its tools once before any measurement: every connection is open, every session used.
  for (const c of clients) {
    for (let k = 0; k < c.tools.length; k++) {
      const answer = await call(pool, target.path, c);
      if (answer !== undefined) throw new Error(`${target.id}: first call failed: ${answer}`);
    }
  }
  return { target, pool, clients };
}

/** The 2025 handshake, once per client: initialize, then notifications/initialized on the new session. */
async function openSession(pool: Pool, path: string, base: readonly string[]): Promise<string> {
  const init = await pool.request({
    path,
    method: 'POST',
    headers: [...base],
    body: JSON.stringify({
      jsonrpc: '2.0', id: nextId++, method: 'initialize',
      params: { protocolVersion: PROTOCOL_2025, capabilities: {}, clientInfo: { name: 'toolgate-bench', version: '1.0.0' } },
    }),
  });
  const text = await init.body.text();
  const session = init.headers['mcp-session-id'];
  if (init.statusCode !== 200 || typeof session !== 'string') throw new Error(`initialize: HTTP ${init.statusCode}: ${text.slice(0, 300)}`);
  const done = await pool.request({
    path,
    method: 'POST',
    headers: [...base, 'mcp-protocol-version', PROTOCOL_2025, 'mcp-session-id', session],
    body: '{"jsonrpc":"2.0","method":"notifications/initialized"}',
  });
  await done.body.text();
  if (done.statusCode !== 202) throw new Error(`notifications/initialized: HTTP ${done.statusCode}`);
  return session;
}

/** One tools/call; undefined when the answer is the tool's result, else a short description of what came back. */
async function call(pool: Pool, path: string, client: ClientState): Promise<string | undefined> {
  const { headers, tools } = client;
  const tool = tools[client.calls++ % tools.length] as string;
  const body = headers.includes(PROTOCOL_2026) ? callBody2026(nextId++, tool) : callBody(nextId++, tool);
  const res = await pool.request({ path, method: 'POST', headers, body });
  const text = await res.body.text();
  if (res.statusCode === 200 && text.includes(ECHO_TEXT) && !text.includes('"isError":true')) return undefined;
  return `HTTP ${res.statusCode}: ${text.slice(0, 300)}`;
}

async function run(endpoint: Endpoint, durationMs: number): Promise<RunResult> {
  const { target, pool, clients } = endpoint;
  const latencies = new Samples();
  let ok = 0;
  let errors = 0;
  let firstError: string | undefined;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + durationMs;
  const client = async (c: ClientState) => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      let problem: string | undefined;
      try {
        problem = await call(pool, target.path, c);
      } catch (err) {
        problem = err instanceof Error ? err.message : String(err);
      }
      latencies.push(performance.now() - t0);
      if (problem === undefined) {
        ok++;
      } else {
        errors++;
        firstError ??= problem;
        // A failing endpoint must not turn the loop into a busy spin.
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };
  await Promise.all(clients.map(client));
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return { type: 'result', targetId: target.id, ok, errors, firstError, elapsedMs, latenciesMs: latencies.values(), clientCpuMs: (cpu.user + cpu.system) / 1000 };
}

/** A growable Float64Array. */
class Samples {
  private data = new Float64Array(16_384);
  private size = 0;
  push(value: number): void {
    if (this.size === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.size++] = value;
  }
  values(): Float64Array {
    return this.data.slice(0, this.size);
  }
}
