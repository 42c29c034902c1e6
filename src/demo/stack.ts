// Starts everything the demo needs on 127.0.0.1, in order, and stops it in reverse: IdP, billing MCP server,
// toolgate (in-process), Envoy (the pinned binary running envoy/sidecar.yaml).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../log/logger.js';
import { serve } from '../server/serve.js';
import { auditFeed, type AuditFeed } from './audit-feed.js';
import { MCP_PATH, startBillingServer, type BillingServer } from './billing-server.js';
import { demoConfigText } from './config.js';
import { envoyBinary, startEnvoy } from './envoy.js';
import { startDemoIdp, type DemoIdp } from './idp.js';
import { freePort } from './ports.js';

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
  readonly billing: BillingServer;
  readonly billingUrl: string;
  readonly toolgate: { readonly grpcPort: number; readonly adminUrl: string; readonly configPath: string };
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
    const billing = await startBillingServer();
    stops.push(() => billing.stop());

    const listenPort = opts.port || (await freePort());
    const endpoint = `http://127.0.0.1:${listenPort}${MCP_PATH}`;
    const configPath = join(workDir, 'toolgate.yaml');
    await writeFile(configPath, demoConfigText({
      resource: endpoint,
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      sessionSecret: randomBytes(32).toString('base64url'),
    }));
    const feed = auditFeed(opts.printProblem);
    const log = createLogger({ level: 'info', destination: feed });
    const served = await serve({ configFile: configPath, host: '127.0.0.1', grpcPort: 0, adminPort: 0, watch: opts.watch }, log);
    stops.push(() => served.stop());

    const envoyAdminPort = await freePort();
    const envoy = await startEnvoy({
      binary,
      templatePath: join(opts.repoRoot, 'envoy', 'sidecar.yaml'),
      workDir,
      vars: {
        LISTEN_ADDRESS: '127.0.0.1',
        LISTEN_PORT: listenPort,
        ADMIN_PORT: envoyAdminPort,
        TOOLGATE_GRPC_ADDRESS: '127.0.0.1',
        TOOLGATE_GRPC_PORT: served.grpcPort,
        BACKEND_ADDRESS: '127.0.0.1',
        BACKEND_PORT: billing.port,
      },
    });
    stops.push(() => envoy.stop());

    return {
      endpoint,
      envoyVersion: readFileSync(join(opts.repoRoot, 'envoy', 'VERSION'), 'utf8').trim(),
      envoyAdminUrl: envoy.adminUrl,
      idp,
      billing,
      billingUrl: `http://127.0.0.1:${billing.port}${MCP_PATH}`,
      toolgate: { grpcPort: served.grpcPort, adminUrl: `http://127.0.0.1:${served.adminPort}`, configPath },
      feed,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
