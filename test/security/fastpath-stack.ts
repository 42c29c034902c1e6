// A gateway whose bootstrap has a 2026 fast path: examples/gateway.yaml with inventory's names unprefixed and
// inventory declared 2026-capable, rendered by src/cli/render at test time (the checked-in gateway.yaml has no fast path:
// all its names are prefixed). The same instrumented backends and journal as the security harness.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { configSchema, type RawConfig } from '../../src/core/config/schema.js';
import { compilePolicy } from '../../src/core/policy/compile.js';
import { renderEnvoy } from '../../src/cli/render/envoy.js';
import { startEnvoy, type EnvoyInstance } from '../harness/envoy.js';
import { REPO_ROOT } from '../harness/repo.js';
import { startTestIdp, type TestIdp } from '../harness/jwt.js';
import { freePort } from '../harness/ports.js';
import { newSessionKey } from '../e2e/helpers/gateway-stack.js';
import { toolgateConfigText } from '../e2e/helpers/toolgate.js';
import { startToolgate, type Toolgate } from '../harness/toolgate.js';
import { Journal, startInstrumentedBackend, type BackendKind } from './backend.js';
import { PROTOCOL, SECURITY_CLAIMS, rawSender, securityTasks, type PostOptions, type RawReply } from './harness.js';

/** The tool with a fast-path route: inventory's, unprefixed, allowed without reading arguments. */
export const FAST_TOOL = 'lookup_charge';

export interface FastPathGateway {
  readonly endpoint: string;
  readonly envoy: EnvoyInstance;
  readonly idp: TestIdp;
  readonly toolgate: Toolgate;
  readonly journal: Journal;
  send(method: string, body: string | Uint8Array | undefined, opts?: PostOptions): Promise<RawReply>;
  /**
   * A 2025 session's tools/list, which fills the gateway's name index the way a client's first list does: until then
   * toolgate cannot place a bare name from its headers alone and reads the body instead.
   */
  warmUp(): Promise<void>;
  stop(): Promise<void>;
}

/** examples/gateway.yaml's backends with inventory bare and 2026-capable; billing keeps its prefix and declares nothing. */
export function fastPathBackends(): NonNullable<RawConfig['backends']> {
  const example = parse(readFileSync(join(REPO_ROOT, 'examples', 'gateway.yaml'), 'utf8')) as RawConfig;
  const { billing, inventory } = example.backends ?? {};
  if (!billing || !inventory) throw new Error('examples/gateway.yaml lost its billing or inventory backend');
  return {
    billing,
    inventory: { ...inventory, prefixMode: 'never', protocols: ['2025-06-18', '2026-07-28'] },
  };
}

export async function startFastPathGateway(kind: BackendKind): Promise<FastPathGateway> {
  const cleanup: Array<() => Promise<unknown>> = [];
  const unwind = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
  };
  try {
    const journal = new Journal();
    const replicas = [];
    for (const [replica, resources] of [['b1', true], ['b2', true], ['i1', false], ['i2', false]] as const) {
      const b = await startInstrumentedBackend({ kind, replica, journal, resources });
      cleanup.push(() => b.stop());
      replicas.push(b);
    }
    const [b1, b2, i1, i2] = replicas as [typeof replicas[0], typeof replicas[0], typeof replicas[0], typeof replicas[0]];
    const example = parse(readFileSync(join(REPO_ROOT, 'examples', 'gateway.yaml'), 'utf8')) as RawConfig;
    const backends = fastPathBackends();
    const tasks = securityTasks('gateway');
    const limited = tasks.limited;
    if (!limited) throw new Error('securityTasks lost its task');
    const withFast = { ...tasks, limited: { ...limited, tools: [...(limited.tools ?? []), { tool: FAST_TOOL }] } };
    const raw: RawConfig = { ...example, backends, tasks: withFast };
    const config = configSchema.parse(raw);
    const template = renderEnvoy(config, compilePolicy(config, 'fastpath.yaml'), 'fastpath.yaml', { source: 'fastpath.yaml' });
    const dir = await mkdtemp(join(tmpdir(), 'toolgate-fastpath-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'envoy.yaml'), template);

    const [grpcPort, adminPort, egressPort] = [await freePort(), await freePort(), await freePort()];
    const envoy = await startEnvoy({
      template: join(dir, 'envoy.yaml'),
      name: 'envoy (gateway with a fast path)',
      vars: {
        TOOLGATE_GRPC_PORT: grpcPort,
        EGRESS_PORT: egressPort,
        BILLING_1_ADDRESS: '127.0.0.1', BILLING_1_PORT: b1.port,
        BILLING_2_ADDRESS: '127.0.0.1', BILLING_2_PORT: b2.port,
        INVENTORY_1_ADDRESS: '127.0.0.1', INVENTORY_1_PORT: i1.port,
        INVENTORY_2_ADDRESS: '127.0.0.1', INVENTORY_2_PORT: i2.port,
      },
    });
    cleanup.push(() => envoy.stop());
    const endpoint = `${envoy.url}/mcp`;
    const idp = await startTestIdp({ audience: endpoint });
    cleanup.push(() => idp.stop());
    const toolgate = await startToolgate({
      config: (ports) => toolgateConfigText({
        envoyUrl: envoy.url,
        idp,
        tasks: withFast,
        extra: {
          backends,
          egress: { ...example.egress, url: `http://127.0.0.1:${egressPort}` },
          session: { ttl: '1h', keys: [newSessionKey('k1')] },
        },
      }, ports),
      grpcPort,
      adminPort,
    });
    cleanup.push(() => toolgate.dispose());

    const token = await idp.mint(SECURITY_CLAIMS);
    const send = rawSender(endpoint, token);
    const warmUp = async () => {
      const init = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'warm-up', version: '1' } } });
      const opened = await send('POST', init, { headers: { 'mcp-protocol-version': PROTOCOL } });
      const session = opened.headers.get('mcp-session-id');
      if (opened.status !== 200 || !session) throw new Error(`warm-up initialize: ${opened.status} ${opened.text}`);
      const listed = await send('POST', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }), { session, headers: { 'mcp-protocol-version': PROTOCOL } });
      if (!listed.text.includes(`"${FAST_TOOL}"`)) throw new Error(`warm-up tools/list did not list ${FAST_TOOL}: ${listed.text}`);
    };
    return { endpoint, envoy, idp, toolgate, journal, send, warmUp, stop: unwind };
  } catch (err) {
    await unwind();
    throw err;
  }
}
