// Gateway mode, through the real Envoy with MCP SDK clients and servers: resource-template URIs route to the backend
// whose template matches (read, subscribe, completion), logging/setLevel reaches every backend and its answer is
// theirs, and a foreign Host or Origin is refused before anything reaches a backend (issue 12, points 3-5).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { printLogsOnFailure } from '../harness/logs.js';
import type { McpTestServer, RecordedRequest } from '../harness/mcp-server.js';
import { connectAs, type Connected } from './helpers/client.js';
import { BILLING, INVENTORY, startGatewayStack, type GatewayStack, type ReplicaName } from './helpers/gateway-stack.js';
import { rawRequest } from './helpers/raw-http.js';

printLogsOnFailure();

const CHARGE_TEMPLATE = 'billing://charges/{id}';
const STOCK_TEMPLATE = 'stock://items/{sku}/level';
/** Both backends offer a template that `docs://faq.md` matches: the gateway cannot tell which one serves it. */
const BILLING_DOCS = 'docs://{name}';
const INVENTORY_DOCS = 'docs://{name}.md';

/** Each backend's own templates, with completions, and subscriptions (the SDK needs explicit handlers for those). */
function templatesOf(backend: 'billing' | 'inventory') {
  return (server: McpServer): void => {
    server.server.registerCapabilities({ resources: { subscribe: true } });
    server.server.setRequestHandler(SubscribeRequestSchema, () => ({}));
    server.server.setRequestHandler(UnsubscribeRequestSchema, () => ({}));
    const read = (uri: URL, vars: Record<string, unknown>) => ({
      contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ backend, vars }) }],
    });
    if (backend === 'billing') {
      server.registerResource('charge', new ResourceTemplate(CHARGE_TEMPLATE, {
        list: undefined,
        complete: { id: (value) => ['ch_100', 'ch_123', 'ch_200'].filter((id) => id.startsWith(value)) },
      }), { description: 'A charge.' }, read);
      server.registerResource('doc', new ResourceTemplate(BILLING_DOCS, { list: undefined }), { description: 'A billing doc.' }, read);
    } else {
      server.registerResource('stock', new ResourceTemplate(STOCK_TEMPLATE, { list: undefined }), { description: 'Stock level.' }, read);
      server.registerResource('doc', new ResourceTemplate(INVENTORY_DOCS, { list: undefined }), { description: 'An inventory doc.' }, read);
    }
  };
}

const TASKS = {
  all: {
    description: 'Everything, for the feature tests',
    tools: [{ tool: '*' }],
    resources: ['*'],
    prompts: ['*'],
    methods: ['logging/setLevel', 'completion/complete'],
  },
};

let stack: GatewayStack;
let jwt: string;
let agent: Connected;
beforeAll(async () => {
  stack = await startGatewayStack({
    tasks: TASKS,
    replicaOptions: (name) => ({ extend: templatesOf(BILLING.includes(name) ? 'billing' : 'inventory') }),
  });
  jwt = await stack.idp.mint({ authorized_tasks: ['all'] });
  agent = await connectAs(stack.endpoint, jwt);
});
afterAll(async () => {
  await agent?.close();
  await stack?.stop();
});

const replicasOf = (names: readonly ReplicaName[]): McpTestServer[] => names.map((n) => stack.replicas[n]);
const all = (): McpTestServer[] => replicasOf([...BILLING, ...INVENTORY]);
const clearAll = () => { for (const r of all()) r.clearRequests(); };
/** Requests of one JSON-RPC method the given replicas received. */
const received = (names: readonly ReplicaName[], method: string): RecordedRequest[] =>
  replicasOf(names).flatMap((r) => r.requests.filter((q) => q.rpcMethod === method));
const uriOf = (q: RecordedRequest) => ((q.body as { params?: { uri?: string } }).params ?? {}).uri;

/** A raw JSON-RPC request on the agent's session (for what the SDK client would refuse to send). */
async function rpc(method: string, params: Record<string, unknown>, headers: Record<string, string> = {}) {
  return rawRequest(stack.endpoint, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${jwt}`,
      'mcp-session-id': agent.transport.sessionId ?? '',
      'mcp-protocol-version': agent.transport.protocolVersion ?? '2025-11-25',
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, params }),
  });
}

// The first read comes before any templates list: toolgate's index is empty, and the miss refreshes it once.
describe('resource templates route to the backend whose template matches', () => {
  it('a read before any templates list: the miss refreshes both resource lists once, then routes', async () => {
    clearAll();
    const result = await agent.client.readResource({ uri: 'billing://charges/ch_9' });
    expect(JSON.parse((result.contents[0] as { text: string }).text)).toEqual({ backend: 'billing', vars: { id: 'ch_9' } });
    for (const backend of [BILLING, INVENTORY]) {
      expect(received(backend, 'resources/templates/list')).toHaveLength(1);
      expect(received(backend, 'resources/list')).toHaveLength(1);
    }
    expect(received(BILLING, 'resources/read').map(uriOf)).toEqual(['billing://charges/ch_9']);
  });

  it.each([
    ['billing://charges/ch_123', 'billing', BILLING, INVENTORY, { id: 'ch_123' }],
    ['stock://items/sku-9/level', 'inventory', INVENTORY, BILLING, { sku: 'sku-9' }],
    ['docs://readme', 'billing', BILLING, INVENTORY, { name: 'readme' }],
  ] as const)('resources/read %s reaches %s only', async (uri, backend, owner, other, vars) => {
    clearAll();
    const result = await agent.client.readResource({ uri });
    expect(result.contents).toHaveLength(1);
    expect(JSON.parse((result.contents[0] as { text: string }).text)).toEqual({ backend, vars });
    expect(received(owner, 'resources/read').map(uriOf)).toEqual([uri]);
    expect(received(other, 'resources/read')).toEqual([]);
  });

  it('resources/subscribe and unsubscribe of a template URI reach its backend only', async () => {
    clearAll();
    const uri = 'stock://items/sku-4/level';
    await agent.client.subscribeResource({ uri });
    await agent.client.unsubscribeResource({ uri });
    expect(received(INVENTORY, 'resources/subscribe').map(uriOf)).toEqual([uri]);
    expect(received(INVENTORY, 'resources/unsubscribe').map(uriOf)).toEqual([uri]);
    expect([...received(BILLING, 'resources/subscribe'), ...received(BILLING, 'resources/unsubscribe')]).toEqual([]);
  });

  it('completion/complete of a template variable (ref/resource) reaches the template\'s backend', async () => {
    clearAll();
    const result = await agent.client.complete({ ref: { type: 'ref/resource', uri: CHARGE_TEMPLATE }, argument: { name: 'id', value: 'ch_1' } });
    expect(result.completion.values).toEqual(['ch_100', 'ch_123']);
    expect(received(BILLING, 'completion/complete')).toHaveLength(1);
    expect(received(INVENTORY, 'completion/complete')).toEqual([]);
  });

  it('a URI that templates of two backends match is refused, naming both; no backend reads it', async () => {
    clearAll();
    const res = await rpc('resources/read', { uri: 'docs://faq.md' });
    expect(res.status).toBe(200);
    const error = (res.json as { error?: { code: number; message: string } }).error;
    expect(error?.code).toBe(-32602);
    expect(error?.message).toContain('billing');
    expect(error?.message).toContain('inventory');
    expect(error?.message).toContain(BILLING_DOCS);
    expect(error?.message).toContain(INVENTORY_DOCS);
    expect(received([...BILLING, ...INVENTORY], 'resources/read')).toEqual([]);
  });

  it('lists both backends\' templates', async () => {
    const { resourceTemplates } = await agent.client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate).sort()).toEqual([CHARGE_TEMPLATE, BILLING_DOCS, INVENTORY_DOCS, STOCK_TEMPLATE].sort());
  });

  it('a URI no template matches is still refused with -32602', async () => {
    const res = await rpc('resources/read', { uri: 'billing://refunds/r_1' });
    expect((res.json as { error?: { code: number } }).error?.code).toBe(-32602);
  });
});

describe('logging/setLevel reaches every backend of the session', () => {
  it('both backends hear the level, and the client gets their (empty) result', async () => {
    clearAll();
    await expect(agent.client.setLoggingLevel('warning')).resolves.toEqual({});
    const heard = (names: readonly ReplicaName[]) => received(names, 'logging/setLevel').map((q) => (q.body as { params: unknown }).params);
    expect(heard(BILLING)).toEqual([{ level: 'warning' }]);
    expect(heard(INVENTORY)).toEqual([{ level: 'warning' }]);
  });

  it('a level every backend refuses is an error naming their answers, not a made-up success', async () => {
    clearAll();
    const res = await rpc('logging/setLevel', { level: 'loud' });
    expect(res.status).toBe(200);
    const body = res.json as { id?: unknown; result?: unknown; error?: { code: number; message: string } };
    expect(body.result).toBeUndefined();
    expect(body.id).toBe(7);
    // The SDK servers answer an unknown level with -32603 and zod's complaint; both said so, so the code is theirs.
    expect(body.error?.code).toBe(-32603);
    expect(body.error?.message).toMatch(/^No backend accepted logging\/setLevel: billing refused it \(-32603: .*"level".*\); inventory refused it/);
    expect(received([...BILLING, ...INVENTORY], 'logging/setLevel')).toHaveLength(2);
  });
});

describe('Host and Origin (DNS rebinding), default lists: the resource\'s host and loopback', () => {
  const initialize = (headers: Record<string, string>) => rawRequest(stack.endpoint, {
    method: 'POST',
    headers: { authorization: `Bearer ${jwt}`, ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'rebind', version: '1' } } }),
  });
  const port = () => new URL(stack.endpoint).port;

  it.each([
    ['a foreign Host', { host: 'evil.example' }, 'Host'],
    ['a foreign Host on the right port', { host: 'attacker.example:PORT' }, 'Host'],
    ['a foreign Origin', { origin: 'https://evil.example' }, 'Origin'],
    ['Origin: null (a sandboxed page)', { origin: 'null' }, 'Origin'],
  ])('initialize with %s: 403, a JSON-RPC error without id, no backend contacted', async (_name, headers, what) => {
    clearAll();
    const concrete = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.replace('PORT', port())]));
    const res = await initialize(concrete);
    expect(res.status).toBe(403);
    const body = res.json as { id?: unknown; error?: { code: number; message: string } };
    expect(body.id).toBeNull();
    expect(body.error?.message).toContain(what);
    expect(body.error?.message).toContain('DNS rebinding');
    expect(all().flatMap((r) => r.requests)).toEqual([]);
  });

  it('a routed tool call with a foreign Origin is refused before it reaches the backend', async () => {
    clearAll();
    const res = await rpc('tools/call', { name: 'billing.echo', arguments: { text: 'hi' } }, { origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect(all().flatMap((r) => r.requests.map((q) => q.rpcMethod ?? q.httpMethod))).toEqual([]);
  });

  it.each([
    ['the resource\'s own Host and no Origin', {}],
    ['Host localhost', { host: 'localhost:PORT' }],
    ['the resource\'s own origin', { origin: 'http://127.0.0.1:PORT' }],
    ['a loopback origin on another port', { origin: 'http://localhost:6274' }],
  ])('initialize with %s passes', async (_name, headers) => {
    const concrete = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.replace('PORT', port())]));
    const res = await initialize(concrete);
    expect(res.status).toBe(200);
    expect(res.headers['mcp-session-id']).toBeTruthy();
  });
});
