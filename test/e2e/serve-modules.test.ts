// A serving toolgate loads only what its config uses (docs/benchmark.md, "Memory"): with an in-memory store, a local
// key set and tracing off, no Redis client, no command other than `serve` (renderers, policy tests, `pins` with the
// MCP SDK and ajv), no OpenTelemetry SDK or core and no undici (Node's fetch, which an ESM import of node:http pulled in whole).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkClient, toolCall } from '../harness/check-client.js';
import { startTestIdp, type TestIdp } from '../harness/jwt.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { REPO_ROOT } from '../harness/repo.js';
import { ADMIN_TOKEN_FILE, startToolgate } from '../harness/toolgate.js';

printLogsOnFailure();

const RESOURCE = 'https://mcp.toolgate.test/mcp';
const PRELOAD = pathToFileURL(join(REPO_ROOT, 'test', 'fixtures', 'module-trace', 'preload.mjs')).href;

interface Trace { readonly loaded: string[]; readonly builtins: string[] }

let idp: TestIdp;
let traceDir: string;
let trace: Trace;
beforeAll(async () => {
  idp = await startTestIdp({ serve: false, audience: RESOURCE });
  traceDir = await mkdtemp(join(tmpdir(), 'toolgate-modules-'));
  const traceFile = join(traceDir, 'modules.json');
  const toolgate = await startToolgate({
    config: ({ grpcPort, adminPort }) => stringify({
      resource: RESOURCE,
      server: { host: '127.0.0.1', grpcPort, adminPort, adminTokenFile: ADMIN_TOKEN_FILE },
      identity: { jwt: { issuer: idp.issuer, jwksFile: 'jwks.json', algorithms: ['RS256'] }, task: { claim: 'authorized_tasks' } },
      tasks: { support: { tools: [{ tool: 'lookup_charge' }, { tool: 'refund', when: 'mcp.arguments.amount <= jwt.refund_limit' }] } },
    }),
    prepare: (dir) => idp.writeJwksFile(join(dir, 'jwks.json')),
    env: { NODE_OPTIONS: `--import=${PRELOAD}`, TOOLGATE_MODULE_TRACE: traceFile, OTEL_EXPORTER_OTLP_ENDPOINT: undefined, OTEL_TRACES_EXPORTER: undefined },
  });
  try {
    // The request path runs once (an allow, a condition, a denial), so what it loads lazily is in the trace too.
    const client = checkClient(toolgate.grpcPort);
    const token = await idp.mint({ authorized_tasks: ['support'], refund_limit: 100 });
    for (const body of [toolCall('lookup_charge', {}), toolCall('refund', { amount: 20 }), toolCall('refund', { amount: 500 })]) await client.check({ token, body });
    client.close();
    expect(await toolgate.stop()).toEqual({ code: 0, signal: null });
    trace = JSON.parse(await readFile(traceFile, 'utf8')) as Trace;
  } finally {
    await toolgate.dispose();
  }
});
afterAll(async () => {
  await idp?.stop();
  await rm(traceDir, { recursive: true, force: true });
});

const packageOf = (url: string) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
const distPath = (url: string) => /\/dist\/(.+)$/.exec(url)?.[1];

describe('toolgate serve (sidecar, in-memory store, local key set, no tracing)', () => {
  it('loads the server it runs: the trace sees its modules (so an absence below means something)', () => {
    const packages = new Set(trace.loaded.map(packageOf));
    expect(packages).toContain('@grpc/grpc-js');
    expect(packages).toContain('pino');
    expect(trace.loaded.map(distPath)).toContain('app/server/serve.js');
  });

  it.each([
    ['the Redis client (ioredis)', ['ioredis', '@ioredis/commands']],
    ["`pins`' MCP SDK client and its validators", ['@modelcontextprotocol/sdk', 'ajv', 'zod-to-json-schema']],
    // (prom-client's process CPU metric imports @opentelemetry/api itself, for exemplars: that one stays.)
    ['OpenTelemetry beyond its API (tracing is off: no OTEL_* variable)', ['@opentelemetry/sdk-node', '@opentelemetry/sdk-trace-base', '@opentelemetry/core', '@opentelemetry/semantic-conventions']],
  ])('does not load %s', (_what, packages) => {
    const loaded = new Set(trace.loaded.map(packageOf));
    expect(packages.filter((p) => loaded.has(p))).toEqual([]);
  });

  it('loads no other command: renderers, policy tests, pins, demo', () => {
    const other = trace.loaded.map(distPath).filter((p) => p !== undefined && /^cli\/(render|policytest|demo)\/|^cli\/(pins|policy-test)\.js$/.test(p));
    expect(other).toEqual([]);
  });

  it('does not load undici (Node fetch): nothing fetches with a local key set', () => {
    expect(trace.builtins.filter((m) => m.includes('undici'))).toEqual([]);
  });
});
