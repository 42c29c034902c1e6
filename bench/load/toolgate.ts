// toolgate for the benchmark: the built CLI as a child process (so its CPU time and RSS can be read), a generated
// config with a local JWKS file, and a test IdP that mints the one token every client sends.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { RawConfig } from '../../src/core/config/schema.js';
import { startTestIdp } from '../../test/harness/jwt.js';
import { freePort } from '../../test/harness/ports.js';
import { startChild, waitReady, type Child } from './procs.js';

/** toolgate's resource and the token audience; fixed, since several Envoys (on several ports) call one toolgate. */
export const RESOURCE = 'https://bench.toolgate.test/mcp';
export const TASK = 'bench';

export interface ToolgateSetup {
  readonly configPath: string;
  readonly grpcPort: number;
  readonly adminPort: number;
  /** A bearer token for the task, valid for the whole run. */
  readonly token: string;
}

/** The IdP side of the run: one local JWKS file and one token, shared by the sidecar and the gateway toolgate. */
export interface BenchIdentity {
  readonly issuer: string;
  readonly jwksFile: string;
  readonly token: string;
}

export async function benchIdentity(workDir: string): Promise<BenchIdentity> {
  const idp = await startTestIdp({ serve: false, audience: RESOURCE, subject: 'bench-agent' });
  const jwksFile = await idp.writeJwksFile(join(workDir, 'jwks.json'));
  const token = await idp.mint({ authorized_tasks: [TASK], refund_limit: 100 }, { expiresIn: 4 * 3600 });
  return { issuer: idp.issuer, jwksFile, token };
}

/** What every bench toolgate config shares: the resource, its ports, the local JWKS, a session key, an admin secret. */
export function baseConfig(identity: BenchIdentity, grpcPort: number, adminPort: number, adminTokenFile: string): RawConfig {
  return {
    resource: RESOURCE,
    server: { host: '127.0.0.1', grpcPort, adminPort, shutdownGrace: '2s', adminTokenFile },
    identity: {
      jwt: { issuer: identity.issuer, jwksFile: identity.jwksFile, algorithms: ['RS256'] },
      task: { claim: 'authorized_tasks' },
    },
    session: { keys: [{ kid: 'bench', secret: randomBytes(32).toString('base64url') }] },
  };
}

/** Writes `config` as `<name>.yaml` next to its admin secret (toolgate does not start without one; never used here). */
export function writeConfigFile(workDir: string, name: string, config: RawConfig, adminTokenFile: string): string {
  const configPath = join(workDir, `${name}.yaml`);
  writeFileSync(configPath, stringify(config));
  writeFileSync(join(workDir, adminTokenFile), `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  return configPath;
}

/**
 * The policy: `echo` (what every scenario calls) and `lookup_charge` need no arguments, so the renderer gives them
 * 2026 fast-path routes (the backend is declared 2026-capable); `refund` has a CEL condition, as a real task would.
 */
export async function writeToolgateConfig(workDir: string, identity: BenchIdentity): Promise<ToolgateSetup> {
  const grpcPort = await freePort();
  const adminPort = await freePort();
  const config: RawConfig = {
    ...baseConfig(identity, grpcPort, adminPort, 'admin-token'),
    // The 2026 stand-in speaks 2026-07-28: without this declaration the renderer gives no header-only route.
    backendProtocols: ['2025-11-25', '2026-07-28'],
    tasks: {
      [TASK]: {
        description: 'Benchmark task',
        tools: [
          { tool: 'echo' },
          { tool: 'lookup_charge' },
          { tool: 'refund', when: 'mcp.arguments.amount <= jwt.refund_limit', message: 'Refunds above {{jwt.refund_limit}} need a human. Do not retry.' },
        ],
      },
    },
  };
  const configPath = writeConfigFile(workDir, 'toolgate', config, 'admin-token');
  return { configPath, grpcPort, adminPort, token: identity.token };
}

export interface RunningToolgate {
  readonly child: Child;
  readonly pid: number;
}

/** `node [nodeArgs] bin/toolgate.js serve --config …`, ready once /readyz answers. */
export async function startToolgate(repoRoot: string, setup: ToolgateSetup, nodeArgs: readonly string[] = [], logFile?: string): Promise<RunningToolgate> {
  const env: NodeJS.ProcessEnv = { ...process.env, TOOLGATE_LOG_LEVEL: 'info' };
  // Tracing stays off (as by default): no OTEL_* variable reaches the child.
  for (const name of Object.keys(env)) if (name.startsWith('OTEL_')) delete env[name];
  const child = startChild({
    name: 'toolgate',
    command: process.execPath,
    args: [
      ...nodeArgs,
      join(repoRoot, 'bin', 'toolgate.js'), 'serve', '--config', setup.configPath,
      '--host', '127.0.0.1', '--grpc-port', String(setup.grpcPort), '--admin-port', String(setup.adminPort),
    ],
    env,
    ...(logFile ? { logFile } : {}),
  });
  try {
    await waitReady(child, `http://127.0.0.1:${setup.adminPort}/readyz`);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return { child, pid: child.pid };
}
