// The 2026-07-28 e2e stacks: real 2.x SDK servers behind the pinned Envoy and the built toolgate, in sidecar mode
// (the checked-in envoy/sidecar.yaml) and gateway mode (a bootstrap rendered by src/cli/render at test time), and a real
// 2.x SDK client (or a 2025 one) to talk to them.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { configSchema, type RawConfig } from '../../../src/core/config/schema.js';
import { compilePolicy } from '../../../src/core/policy/compile.js';
import { renderEnvoy } from '../../../src/cli/render/envoy.js';
import { startEnvoy, type EnvoyInstance } from '../../harness/envoy.js';
import { startTestIdp, type TestIdp } from '../../harness/jwt.js';
import { ACCENTED_TOOL, startV2Server, V2Journal, type V2Server } from '../../harness/mcp-server-v2.js';
import { freePort } from '../../harness/ports.js';
import { newSessionKey } from './gateway-stack.js';
import { toolgateConfigText, type TasksConfig } from './toolgate.js';
import { startToolgate, type Toolgate } from '../../harness/toolgate.js';

export const STATELESS = '2026-07-28' as const;
/** What the backends are declared to speak: both generations, so the 2026 fast path is rendered for them. */
export const BOTH_GENERATIONS: Array<'2025-11-25' | typeof STATELESS> = ['2025-11-25', STATELESS];
/** Judged on its arguments, so it has no fast-path route (an Envoy header match on a name that is not ASCII). */
const ACCENTED_RULE = { tool: ACCENTED_TOOL, when: "mcp.arguments.text != ''" };
const REFUND_MESSAGE = 'Refunds above {{jwt.refund_limit}} need a human approver. Do not retry; hand the case over.';
export const CLAIMS = { authorized_tasks: ['refund-support'], refund_limit: 100 };

/** As examples/sidecar.yaml: lookup_charge is judged without arguments (a fast-path route), refund by its amount. */
export const SIDECAR_TASKS: TasksConfig = {
  'refund-support': { tools: [{ tool: 'lookup_charge' }, { tool: 'refund', when: 'mcp.arguments.amount <= jwt.refund_limit', message: REFUND_MESSAGE }, ACCENTED_RULE] },
};

/** billing's names are prefixed (its calls are renamed, so their bodies are read); inventory's are bare (fast path). */
export const GATEWAY_TASKS: TasksConfig = {
  'refund-support': {
    tools: [
      { tool: 'billing.lookup_charge' },
      { tool: 'billing.refund', when: 'mcp.arguments.amount <= jwt.refund_limit', message: REFUND_MESSAGE },
      { tool: 'lookup_charge' },
      { tool: 'refund', when: 'mcp.arguments.amount <= jwt.refund_limit', message: REFUND_MESSAGE },
      ACCENTED_RULE,
    ],
  },
};

export interface Stack2026 {
  readonly mode: 'sidecar' | 'gateway';
  readonly endpoint: string;
  readonly envoy: EnvoyInstance;
  readonly idp: TestIdp;
  readonly toolgate: Toolgate;
  readonly journal: V2Journal;
  /** A token with CLAIMS. */
  readonly token: string;
  stop(): Promise<void>;
}

type Cleanup = Array<() => Promise<unknown>>;

async function unwind(cleanup: Cleanup): Promise<void> {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
}

/** Envoy's debug trace of its ext_authz and ext_proc filters: the evidence of what read a body. */
const FILTER_TRACE = ['--component-log-level', 'ext_authz:debug,ext_proc:debug'];

export async function startSidecar2026(): Promise<Stack2026> {
  const cleanup: Cleanup = [];
  try {
    const journal = new V2Journal();
    const backend: V2Server = await startV2Server({ replica: 'sidecar', journal });
    cleanup.push(() => backend.stop());
    const grpcPort = await freePort();
    const envoy = await startEnvoy({ name: 'envoy (sidecar.yaml, 2.x server)', vars: { TOOLGATE_GRPC_PORT: grpcPort, BACKEND_PORT: backend.port }, extraArgs: FILTER_TRACE });
    cleanup.push(() => envoy.stop());
    const endpoint = `${envoy.url}/mcp`;
    const idp = await startTestIdp({ audience: endpoint });
    cleanup.push(() => idp.stop());
    const toolgate = await startToolgate({ config: (ports) => toolgateConfigText({ envoyUrl: envoy.url, idp, tasks: SIDECAR_TASKS, extra: { backendProtocols: BOTH_GENERATIONS } }, ports), grpcPort });
    cleanup.push(() => toolgate.dispose());
    const token = await idp.mint(CLAIMS);
    return { mode: 'sidecar', endpoint, envoy, idp, toolgate, journal, token, stop: () => unwind(cleanup) };
  } catch (err) {
    await unwind(cleanup);
    throw err;
  }
}

/** billing (prefixed) and inventory (bare), one 2.x replica each, both declared 2026-capable. */
export function gatewayBackends(): NonNullable<RawConfig['backends']> {
  return {
    billing: { cluster: 'billing', toolPrefix: 'billing', prefixMode: 'always', path: '/mcp', protocols: BOTH_GENERATIONS, endpoints: ['${BILLING_ADDRESS}:${BILLING_PORT}'] },
    inventory: { cluster: 'inventory', toolPrefix: 'inventory', prefixMode: 'never', path: '/mcp', protocols: BOTH_GENERATIONS, endpoints: ['${INVENTORY_ADDRESS}:${INVENTORY_PORT}'] },
  };
}

export async function startGateway2026(): Promise<Stack2026> {
  const cleanup: Cleanup = [];
  try {
    const journal = new V2Journal();
    const billing = await startV2Server({ replica: 'billing', journal });
    cleanup.push(() => billing.stop());
    const inventory = await startV2Server({ replica: 'inventory', journal });
    cleanup.push(() => inventory.stop());
    const [grpcPort, adminPort, egressPort] = [await freePort(), await freePort(), await freePort()];
    const backends = gatewayBackends();
    const session = { ttl: '1h', keys: [newSessionKey('k1')] };
    const egress = { url: `http://127.0.0.1:${egressPort}`, timeout: '5s' };
    // The bootstrap is rendered from the same config toolgate runs (resource and identity do not change the routes).
    const raw: RawConfig = {
      resource: 'https://mcp.example.com/mcp',
      server: { host: '127.0.0.1', grpcPort: 9001, adminPort: 9002 },
      identity: { jwt: { issuer: 'https://idp.example', jwksUri: 'https://idp.example/jwks' }, task: { claim: 'authorized_tasks' } },
      session,
      egress,
      backends,
      tasks: GATEWAY_TASKS,
    };
    const config = configSchema.parse(raw);
    const template = renderEnvoy(config, compilePolicy(config, 'gen2026.yaml'), 'gen2026.yaml', { source: 'gen2026.yaml' });
    const dir = await mkdtemp(join(tmpdir(), 'toolgate-gen2026-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'envoy.yaml'), template);
    const envoy = await startEnvoy({
      template: join(dir, 'envoy.yaml'),
      name: 'envoy (gateway, 2.x servers)',
      vars: {
        TOOLGATE_GRPC_PORT: grpcPort, EGRESS_PORT: egressPort,
        BILLING_ADDRESS: '127.0.0.1', BILLING_PORT: billing.port,
        INVENTORY_ADDRESS: '127.0.0.1', INVENTORY_PORT: inventory.port,
      },
      extraArgs: FILTER_TRACE,
    });
    cleanup.push(() => envoy.stop());
    const endpoint = `${envoy.url}/mcp`;
    const idp = await startTestIdp({ audience: endpoint });
    cleanup.push(() => idp.stop());
    const toolgate = await startToolgate({ config: (ports) => toolgateConfigText({ envoyUrl: envoy.url, idp, tasks: GATEWAY_TASKS, extra: { backends, egress, session } }, ports), grpcPort, adminPort });
    cleanup.push(() => toolgate.dispose());
    const token = await idp.mint(CLAIMS);
    return { mode: 'gateway', endpoint, envoy, idp, toolgate, journal, token, stop: () => unwind(cleanup) };
  } catch (err) {
    await unwind(cleanup);
    throw err;
  }
}

/** A real 2.x client pinned to 2026-07-28 (no fallback to initialize: anything else fails loudly). */
export async function connect2026(endpoint: string, token: string): Promise<Client> {
  const client = new Client({ name: 'gen2026-e2e', version: '2.4.0' }, { versionNegotiation: { mode: { pin: STATELESS } } });
  await client.connect(new StreamableHTTPClientTransport(new URL(endpoint), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

/** A 1.x SDK client: the 2025 generation (initialize, a session), for the mixed-generation cases. */
export async function connect2025(endpoint: string, token: string): Promise<LegacyClient> {
  const client = new LegacyClient({ name: 'gen2025-e2e', version: '1.0.0' });
  await client.connect(new LegacyTransport(new URL(endpoint), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}
