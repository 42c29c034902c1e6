// Records what the pinned Envoy sends toolgate (and what toolgate answers) for one MCP SDK session per mode, into
// test/fixtures/envoy-<version>/. Run through `node scripts/record-envoy-fixtures.mjs`, which builds toolgate first.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { connectAs, type Connected } from '../../test/e2e/helpers/client.js';
import { GATEWAY_TASKS, newSessionKey, startGatewayStack, SUPPORT_CLAIMS } from '../../test/e2e/helpers/gateway-stack.js';
import { startStack, type TasksConfig } from '../../test/e2e/helpers/toolgate.js';
import { ENVOY_VERSION, envoyBinary, envoyBinaryVersion } from '../../test/harness/envoy.js';
import {
  codecs, configFile, FIXTURES_ROOT, fixtureDir, headersOf, jwksFile, RECORD_COMMAND, scenarioFile,
  type FixtureMode, type RecordedEgress, type RecordedExchange, type Scenario,
} from '../../test/harness/envoy-fixtures.js';
import { startEgressRecorder, type EgressRecord, type EgressRecorder } from './egress-recorder.js';
import { startGrpcRecorder, type CheckRecord, type GrpcRecorder, type StreamRecord } from './grpc-recorder.js';

/** Sidecar tasks: `support` may echo and add; `refund` is listed by the backend but not allowed (the denied call). */
const SIDECAR_TASKS: TasksConfig = {
  support: { description: 'Look things up', tools: [{ tool: 'echo' }, { tool: 'add' }] },
};

interface Step {
  readonly name: string;
  readonly description: string;
  run(agent: Connected): Promise<unknown>;
}

/** The client's steps after `connect`; connect itself is split into initialize, the initialized notification and the GET. */
const SIDECAR_STEPS: readonly Step[] = [
  { name: 'tools-list', description: 'tools/list; the backend lists echo, add, refund, …; the caller may see echo and add only', run: (a) => a.client.listTools() },
  { name: 'tools-call-allowed', description: 'tools/call echo, which the caller\'s task allows', run: (a) => a.client.callTool({ name: 'echo', arguments: { text: 'hello' } }) },
  { name: 'tools-call-denied', description: 'tools/call refund, which no task of the caller names (ext_authz denies it)', run: (a) => a.client.callTool({ name: 'refund', arguments: { amount: 5, charge_id: 'ch_1' } }) },
  { name: 'delete', description: 'DELETE of the session (the SDK client\'s terminateSession)', run: (a) => a.transport.terminateSession() },
];

const GATEWAY_STEPS: readonly Step[] = [
  { name: 'tools-list', description: 'tools/list fanned out to billing and inventory, merged with prefixes, filtered by the support task', run: (a) => a.client.listTools() },
  { name: 'tools-call-billing', description: 'tools/call billing.echo: routed to billing as echo', run: (a) => a.client.callTool({ name: 'billing.echo', arguments: { text: 'hello billing' } }) },
  { name: 'tools-call-inventory', description: 'tools/call inventory.echo: routed to inventory as echo', run: (a) => a.client.callTool({ name: 'inventory.echo', arguments: { text: 'hello inventory' } }) },
  { name: 'tools-call-denied', description: 'tools/call billing.refund above the caller\'s refund_limit (ext_authz denies it with the task\'s message)', run: (a) => a.client.callTool({ name: 'billing.refund', arguments: { amount: 500, charge_id: 'ch_1' } }) },
  { name: 'delete', description: 'DELETE of the session, fanned out to both backends', run: (a) => a.transport.terminateSession() },
];

const CONNECT_DESCRIPTIONS: Readonly<Record<string, string>> = {
  initialize: 'initialize from a fresh MCP SDK client (no session yet)',
  'notifications-initialized': 'notifications/initialized, presenting the session token initialize returned',
  'get-event-stream': 'the SDK client\'s GET for server-to-client messages after it initialized',
};

async function main(): Promise<void> {
  const reported = envoyBinaryVersion();
  if (reported !== ENVOY_VERSION) throw new Error(`${envoyBinary()} reports Envoy ${reported ?? 'nothing'}, but envoy/VERSION pins ${ENVOY_VERSION}: run \`npm run envoy:install\` first`);
  const dir = fixtureDir();
  // A bump replaces the old version's folder: fixtures from another Envoy would test a wire toolgate no longer meets.
  for (const entry of await readdir(FIXTURES_ROOT)) if (/^envoy-\d/.test(entry)) await rm(join(FIXTURES_ROOT, entry), { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const written = [...await recordSidecar(), ...await recordGateway()];
  await writeFile(join(dir, 'README.md'), readme(written));
  console.log(`record-envoy-fixtures: wrote ${written.length} scenarios into ${dir}`);
}

async function recordSidecar(): Promise<string[]> {
  let grpc: GrpcRecorder | undefined;
  const stack = await startStack({
    tasks: SIDECAR_TASKS,
    extra: { session: { keys: [newSessionKey('fixture-k1')] } },
    interpose: async (port) => (grpc = await startGrpcRecorder(port)).port,
  });
  try {
    if (!grpc) throw new Error('the gRPC recorder did not start');
    const token = await stack.idp.mint({ authorized_tasks: ['support'] });
    const files = await drive('sidecar', stack.endpoint, token, grpc, undefined, SIDECAR_STEPS);
    await writeFile(configFile('sidecar'), await readFile(stack.toolgate.configPath, 'utf8'));
    await writeFile(jwksFile('sidecar'), `${JSON.stringify(stack.idp.jwks(), null, 2)}\n`);
    return files;
  } finally {
    await stack.stop();
    await grpc?.stop();
  }
}

async function recordGateway(): Promise<string[]> {
  let grpc: GrpcRecorder | undefined;
  const stack = await startGatewayStack({
    tasks: GATEWAY_TASKS,
    keys: [newSessionKey('fixture-k1')],
    interpose: async (port) => (grpc = await startGrpcRecorder(port)).port,
  });
  let egress: EgressRecorder | undefined;
  try {
    if (!grpc) throw new Error('the gRPC recorder did not start');
    // toolgate's fan-out goes through the egress recorder, which forwards to Envoy's egress listener.
    egress = await startEgressRecorder(Number(stack.envoy.vars.EGRESS_PORT));
    const config = parse(stack.configText()) as { egress: { url: string } };
    config.egress.url = egress.url;
    const text = stringify(config);
    await stack.toolgate.reload(text);
    const token = await stack.idp.mint(SUPPORT_CLAIMS);
    const files = await drive('gateway', stack.endpoint, token, grpc, egress, GATEWAY_STEPS);
    await writeFile(configFile('gateway'), text);
    await writeFile(jwksFile('gateway'), `${JSON.stringify(stack.idp.jwks(), null, 2)}\n`);
    return files;
  } finally {
    await stack.stop();
    await grpc?.stop();
    await egress?.stop();
  }
}

/** Runs connect and then each step under its own label, waiting after each until Envoy and toolgate are done. */
async function drive(mode: FixtureMode, endpoint: string, token: string, grpc: GrpcRecorder, egress: EgressRecorder | undefined, steps: readonly Step[]): Promise<string[]> {
  const label = (name: string) => { grpc.label(name); egress?.label(name); };
  label('connect');
  const agent = await connectAs(endpoint, token);
  await settle(grpc);
  const descriptions: Record<string, string> = { ...CONNECT_DESCRIPTIONS };
  try {
    for (const step of steps) {
      label(step.name);
      descriptions[step.name] = step.description;
      await step.run(agent);
      await settle(grpc);
    }
  } finally {
    label('close');
    await agent.close();
    await settle(grpc);
  }
  const exchanges = assemble(grpc.checks, grpc.streams, egress?.calls ?? []);
  const files: string[] = [];
  for (const [name, list] of exchanges) {
    const description = descriptions[name];
    if (description === undefined) continue; // e.g. what closing the client did after the last step
    const scenario: Scenario = { envoyVersion: ENVOY_VERSION, mode, name, description, exchanges: list };
    await writeFile(scenarioFile(mode, name), `${JSON.stringify(scenario, null, 2)}\n`);
    files.push(`${mode}.${name}.json`);
  }
  return files;
}

/** Waits until every Check has its answer and every stream has ended, and nothing new arrived for a moment. */
async function settle(grpc: GrpcRecorder): Promise<void> {
  const deadline = Date.now() + 15_000;
  let last = '';
  let stableSince = Date.now();
  for (;;) {
    const now = `${grpc.checks.length}/${grpc.streams.length}/${grpc.streams.reduce((n, s) => n + s.events.length, 0)}`;
    if (now !== last) { last = now; stableSince = Date.now(); }
    if (grpc.idle() && Date.now() - stableSince > 400) return;
    if (Date.now() > deadline) throw new Error(`Envoy and toolgate did not settle within 15 s (${now} checks/streams/messages)`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Draft {
  scenario: string;
  requestId: string | undefined;
  httpMethod: string;
  rpcMethod: string | undefined;
  check?: CheckRecord;
  stream?: StreamRecord;
  egress: RecordedEgress[];
}

/** Pairs each Check with its stream by x-request-id, names its scenario, and gives each egress call to its exchange. */
function assemble(checks: readonly CheckRecord[], streams: readonly StreamRecord[], egress: readonly EgressRecord[]): Map<string, RecordedExchange[]> {
  const c = codecs();
  const drafts: Draft[] = [];
  for (const check of checks) {
    const http = (c.checkRequest(Buffer.from(check.request.wire, 'base64')) as { attributes?: { request?: { http?: { method?: string; headers?: Record<string, string>; raw_body?: Buffer } } } }).attributes?.request?.http;
    const rpcMethod = rpcMethodOf(http?.raw_body);
    const httpMethod = http?.method ?? '';
    drafts.push({ scenario: scenarioOf(check.label, httpMethod, rpcMethod), requestId: http?.headers?.['x-request-id'], httpMethod, rpcMethod, check, egress: [] });
  }
  for (const stream of streams) {
    const first = stream.events.find((e) => e.from === 'envoy');
    const msg = first && (c.processingRequest(Buffer.from(first.wire, 'base64')) as { request_headers?: { headers?: unknown } });
    const headers = headersOf(msg?.request_headers?.headers);
    const requestId = headers['x-request-id'];
    const draft = requestId === undefined ? undefined : drafts.find((d) => d.requestId === requestId && !d.stream);
    if (draft) draft.stream = stream;
    else drafts.push({ scenario: scenarioOf(stream.label, headers[':method'] ?? '', undefined), requestId, httpMethod: headers[':method'] ?? '', rpcMethod: undefined, stream, egress: [] });
  }
  for (const call of egress) {
    const within = (d: Draft) => {
      const events = d.stream?.events ?? [];
      const start = events[0]?.at;
      const end = events[events.length - 1]?.at;
      return start !== undefined && end !== undefined && call.entry.at >= start && call.entry.at <= end;
    };
    // A fan-out call runs while its exchange's stream waits for toolgate's answer; a GET stream's calls come from the
    // event-stream server, after the GET's own stream ended.
    const owner = drafts.find(within) ?? drafts.find((d) => d.scenario === 'get-event-stream' && call.entry.method === 'GET') ?? drafts.find((d) => d.check?.label === call.label);
    owner?.egress.push(call.entry);
  }
  const out = new Map<string, RecordedExchange[]>();
  for (const d of drafts) {
    const exchange: RecordedExchange = {
      requestId: d.requestId, httpMethod: d.httpMethod, rpcMethod: d.rpcMethod,
      check: d.check && d.check.response && { request: d.check.request, response: d.check.response },
      stream: d.stream && { events: d.stream.events, endedBy: d.stream.endedBy },
      egress: d.egress,
    };
    out.set(d.scenario, [...(out.get(d.scenario) ?? []), exchange]);
  }
  return out;
}

function rpcMethodOf(body: Buffer | undefined): string | undefined {
  if (!body || body.length === 0) return undefined;
  try {
    const method = (JSON.parse(body.toString('utf8')) as { method?: unknown }).method;
    return typeof method === 'string' ? method : undefined;
  } catch {
    return undefined;
  }
}

function scenarioOf(label: string, httpMethod: string, rpcMethod: string | undefined): string {
  if (label !== 'connect') return label;
  if (httpMethod === 'GET') return 'get-event-stream';
  return (rpcMethod ?? 'unknown').replaceAll('/', '-');
}

function readme(files: readonly string[]): string {
  return `# Envoy ${ENVOY_VERSION} ⇄ toolgate, recorded

Recorded by \`${RECORD_COMMAND}\` from the pinned Envoy (\`envoy/VERSION\`) running the checked-in bootstraps
(\`envoy/sidecar.yaml\`, \`envoy/gateway.yaml\`) in the e2e stacks (\`test/e2e/helpers/\`), with a real MCP SDK client
and real MCP SDK servers. A gRPC pass-through between Envoy and toolgate (\`scripts/record-envoy-fixtures/\`) kept
every \`CheckRequest\`/\`CheckResponse\` and every \`ProcessingRequest\`/\`ProcessingResponse\` as the exact protobuf
bytes (\`wire\`, base64); in gateway mode an HTTP pass-through between toolgate and Envoy's egress listener kept
toolgate's fan-out calls. \`view\` is a decoded copy for reading only (every field, by the full generated types); the
tests check that \`view\` still agrees with \`wire\`, and replay \`wire\` through toolgate's own codecs (\`src/envoy/protos.ts\`).

**Re-record when Envoy is bumped** (or when a scenario changes): \`${RECORD_COMMAND}\`. It builds toolgate,
checks the binary reports the pinned version, replaces this folder with \`test/fixtures/envoy-<new version>/\`, and
\`test/unit/envoy-fixtures-version.test.ts\` fails until it has been run.

Nothing is normalised: ports, times, request ids, session tokens and backend session ids are as recorded. The
replay needs them as they are — the handoff MAC covers the request id and issue time, the JWT's audience names
Envoy's port, the session tokens are sealed with the recorded key — so the tests run with the recorded config
(\`<mode>.toolgate.yaml\`, which holds a session key generated for this recording only), the IdP's recorded public
keys (\`<mode>.jwks.json\`) and the clock set to each message's recorded time.

Scenarios: ${files.map((f) => `\`${f}\``).join(', ')}.
`;
}

main().catch((err: unknown) => {
  console.error(`record-envoy-fixtures: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  process.exitCode = 1;
});
