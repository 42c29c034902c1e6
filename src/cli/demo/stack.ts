// Starts the demo mesh on 127.0.0.1, in order, and stops it in reverse: IdP, billing ×2 and inventory MCP servers,
// toolgate (in-process, gateway mode), and the pinned Envoy running the gateway bootstrap rendered from the same config.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { configSchema } from '../../core/config/schema.js';
import { createLogger } from '../../ports/log/logger.js';
import { compilePolicy } from '../../core/policy/compile.js';
import { renderEnvoy } from '../render/envoy.js';
import { serve } from '../../app/server/serve.js';
import { auditFeed, type AuditFeed } from './audit-feed.js';
import { DEMO_ADMIN_TOKEN_FILE, demoConfigText } from './config.js';
import { envoyBinary, startEnvoy } from './envoy.js';
import { startDemoIdp, type DemoIdp } from './idp.js';
import { MCP_PATH, startMcpHost, type McpHost } from './mcp-host.js';
import { freePort } from './ports.js';
import { demoTools } from './tools.js';

export interface DemoStackOptions {
  readonly repoRoot: string;
  /** Envoy's listener port; 0 picks a free one. */
  readonly port: number;
  /** ENVOY_BIN, when set. */
  readonly envoyBin: string | undefined;
  /** Hot-reload the config file (off for a one-shot run). */
  readonly watch: boolean;
  readonly printProblem: (line: string) => void;
}

export interface DemoStack {
  /** The gateway URL agents use: Envoy's listener + /mcp. */
  readonly endpoint: string;
  readonly envoyVersion: string;
  readonly envoyAdminUrl: string;
  readonly idp: DemoIdp;
  /** billing-1, billing-2, inventory-1. */
  readonly servers: readonly McpHost[];
  readonly toolgate: {
    readonly grpcPort: number;
    readonly adminUrl: string;
    readonly configPath: string;
    readonly envoyConfigPath: string;
    /** Holds the bearer secret for POST /admin/sessions/revoke. */
    readonly adminTokenPath: string;
  };
  readonly feed: AuditFeed;
  stop(): Promise<void>;
}

export async function startDemoStack(opts: DemoStackOptions): Promise<DemoStack> {
  // Checked first: a missing binary should not cost a start-up and tear-down of everything else.
  const binary = envoyBinary(opts.repoRoot, opts.envoyBin);
  const stops: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const step of stops.splice(0).reverse()) await step().catch(() => undefined);
  };
  try {
    const workDir = await mkdtemp(join(tmpdir(), 'toolgate-demo-'));
    stops.push(() => rm(workDir, { recursive: true, force: true }));
    const idp = await startDemoIdp();
    stops.push(() => idp.stop());
    // Two billing replicas share nothing but their code, like two pods: a session must stay on one.
    const billingTools = [demoTools('billing'), demoTools('billing')];
    const servers: McpHost[] = [];
    for (const [replica, tools] of [['billing-1', billingTools[0]], ['billing-2', billingTools[1]], ['inventory-1', demoTools('inventory')]] as const) {
      const host = await startMcpHost({ replica, tools: tools as NonNullable<typeof tools> });
      stops.push(() => host.stop());
      servers.push(host);
    }
    const at = (replica: string) => `127.0.0.1:${servers.find((s) => s.replica === replica)?.port}`;

    const [listenPort, egressPort, envoyAdminPort] = [opts.port || (await freePort()), await freePort(), await freePort()];
    const endpoint = `http://127.0.0.1:${listenPort}${MCP_PATH}`;
    const configPath = join(workDir, 'toolgate.yaml');
    const configText = demoConfigText({
      resource: endpoint,
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      sessionSecret: randomBytes(32).toString('base64url'),
      egressUrl: `http://127.0.0.1:${egressPort}`,
      endpoints: { billing: [at('billing-1'), at('billing-2')], inventory: [at('inventory-1')] },
    });
    await writeFile(configPath, configText);
    // A random admin secret for this run only (toolgate does not start without server.adminTokenFile).
    const adminTokenPath = join(workDir, DEMO_ADMIN_TOKEN_FILE);
    await writeFile(adminTokenPath, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
    const feed = auditFeed(opts.printProblem);
    const log = createLogger({ level: 'info', destination: feed });
    const served = await serve({ configFile: configPath, host: '127.0.0.1', grpcPort: 0, adminPort: 0, watch: opts.watch }, log);
    stops.push(() => served.stop());

    // The bootstrap comes from the very config toolgate runs: one source of truth, as `toolgate render envoy` does.
    const config = configSchema.parse(parse(configText));
    const envoyConfigPath = join(workDir, 'envoy-gateway.yaml');
    await writeFile(envoyConfigPath, renderEnvoy(config, compilePolicy(config, configPath), configPath, { source: 'the demo config' }));
    const envoy = await startEnvoy({
      binary,
      templatePath: envoyConfigPath,
      workDir,
      vars: {
        LISTEN_ADDRESS: '127.0.0.1',
        LISTEN_PORT: listenPort,
        ADMIN_PORT: envoyAdminPort,
        TOOLGATE_GRPC_ADDRESS: '127.0.0.1',
        TOOLGATE_GRPC_PORT: served.grpcPort,
        ...(served.eventsPort === undefined ? {} : { TOOLGATE_EVENTS_PORT: served.eventsPort }),
        EGRESS_PORT: egressPort,
      },
    });
    stops.push(() => envoy.stop());

    return {
      endpoint,
      envoyVersion: readFileSync(join(opts.repoRoot, 'envoy', 'VERSION'), 'utf8').trim(),
      envoyAdminUrl: envoy.adminUrl,
      idp,
      servers,
      toolgate: { grpcPort: served.grpcPort, adminUrl: `http://127.0.0.1:${served.adminPort}`, configPath, envoyConfigPath, adminTokenPath },
      feed,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
