// Shared set-up for the micro-benchmarks: a policy like the load benchmark's, a local JWKS, a token, requests.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { buildRuntime, parseConfigText, type Runtime } from '../../src/app/runtime/load.js';
import type { RawConfig } from '../../src/core/config/schema.js';
import type { RawHttpFacts } from '../../src/core/mcp/body.js';
import { sealSession } from '../../src/core/session/token.js';
import { NO_CAPABILITIES, toBackendSessionId } from '../../src/core/session/types.js';
import { SOLE_BACKEND } from '../../src/pipeline/session/sidecar-swap.js';
import { startTestIdp } from '../../test/harness/jwt.js';

export const RESOURCE = 'https://bench.toolgate.test/mcp';
export const CLAIMS = { authorized_tasks: ['support'], refund_limit: 100 };

/** Three tasks; `support` holds an unconditional tool, a CEL-guarded tool and a prefix pattern. */
export function benchConfig(jwksFile: string): RawConfig {
  return {
    resource: RESOURCE,
    identity: { jwt: { issuer: 'https://idp.bench.test', jwksFile, algorithms: ['RS256', 'ES256'] }, task: { claim: 'authorized_tasks' } },
    session: { keys: [{ kid: 'bench', secret: 'nS3pQz8N4bM1v7tR0xY2aL5cD9eF6gH3jK8mP1qW4rT' }] },
    tasks: {
      support: {
        tools: [
          { tool: 'echo' },
          { tool: 'lookup_charge' },
          { tool: 'refund', when: 'mcp.arguments.amount <= jwt.refund_limit', message: 'Refunds above {{jwt.refund_limit}} need a human. Do not retry.' },
          { tool: 'billing.*' },
        ],
      },
      reporting: { tools: [{ tool: 'lookup_charge' }, { tool: 'report_*' }] },
      admin: { tools: [{ tool: '*' }], methods: ['logging/setLevel'] },
    },
  };
}

export interface Fixture {
  readonly runtime: Runtime;
  /** RS256, with the claims above, audience = resource. */
  readonly token: string;
  /** A client session token for the token's subject, sealed as the sidecar's initialize seals one (a sidecar Check opens it). */
  readonly session: string;
  readonly es256Token: string | undefined;
  readonly jwksFile: string;
}

/** `extra`: top-level config sections merged over the bench config (e.g. `backendPins`). */
export async function fixture(extra: Partial<RawConfig> = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'toolgate-micro-'));
  const idp = await startTestIdp({ serve: false, issuer: 'https://idp.bench.test', audience: RESOURCE, subject: 'bench-agent' });
  const jwksFile = await idp.writeJwksFile(join(dir, 'jwks.json'));
  const configFile = join(dir, 'toolgate.yaml');
  const text = stringify({ ...benchConfig(jwksFile), ...extra });
  writeFileSync(configFile, text);
  const runtime = buildRuntime(parseConfigText(text, configFile), configFile);
  const backend = { sessionId: toBackendSessionId(randomUUID()), protocolVersion: '2025-11-25', capabilities: NO_CAPABILITIES };
  const session = await sealSession(runtime.sessions.keyring, { subject: 'bench-agent', backends: new Map([[SOLE_BACKEND, backend]]) }, { ttlSeconds: 3600 });
  return { runtime, token: await idp.mint(CLAIMS, { expiresIn: 3600 }), session, es256Token: undefined, jwksFile };
}

const POST = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

export function toolCallBody(name: string, args: Record<string, unknown>): string {
  return JSON.stringify({ jsonrpc: '2.0', id: 42, method: 'tools/call', params: { name, arguments: args } });
}

/**
 * A 2025 tools/call as ext_authz hands it over: headers plus the whole body, as bytes. `session`: the client's
 * Mcp-Session-Id; a sidecar Check opens it, so benches that run authorize() pass the fixture's real one.
 */
export function call2025(name: string, args: Record<string, unknown>, token?: string, session = 'x'.repeat(325)): RawHttpFacts & { path: string } {
  return {
    method: 'POST',
    path: '/mcp',
    headers: { ...POST, 'mcp-protocol-version': '2025-11-25', 'mcp-session-id': session, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: Buffer.from(toolCallBody(name, args)),
  };
}

/** A 2026 tools/call on the fast path: headers only, no body. */
export function call2026HeadersOnly(name: string, token?: string): RawHttpFacts & { path: string } {
  return {
    method: 'POST',
    path: '/mcp',
    headers: { ...POST, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: undefined,
  };
}
