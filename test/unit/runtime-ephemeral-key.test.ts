// Without configured session keys the random key belongs to one app: a reload keeps it, another app gets its own.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/app/runtime/load.js';
import { holdRuntime } from '../../src/app/runtime/watch.js';
import { openSession, sealSession } from '../../src/core/session/token.js';
import { asClientSessionToken, NO_CAPABILITIES, toBackendSessionId, type BackendEntry } from '../../src/core/session/types.js';
import type { Keyring } from '../../src/core/session/keys.js';
import { createMetrics } from '../../src/ports/telemetry/metrics.js';

const CONFIG = `resource: https://mcp.example.com/mcp
identity: { jwt: { issuer: https://auth.test, jwksUri: https://auth.test/jwks.json } }
tasks: { t: { tools: [ { tool: echo } ] } }
`;

async function sealed(keyring: Keyring): Promise<string> {
  return sealSession(keyring, { subject: 'agent-7', backends: new Map<string, BackendEntry>([['_', { sessionId: toBackendSessionId('backend-sid') as NonNullable<ReturnType<typeof toBackendSessionId>>, protocolVersion: '2025-11-25', capabilities: NO_CAPABILITIES }]]) }, { ttlSeconds: 60 });
}

async function opens(keyring: Keyring, token: string): Promise<boolean> {
  return (await openSession(keyring, asClientSessionToken(token), { expectedSubject: 'agent-7' })).ok;
}

describe('the random session key without session.keys', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'toolgate-ephemeral-'));
  const file = path.join(dir, 'c.yaml');
  writeFileSync(file, CONFIG);

  it('is kept across a reload, so sessions survive it', async () => {
    const holder = holdRuntime(loadConfigFile(file), pino({ level: 'silent' }), createMetrics(), { watch: false });
    try {
      const before = holder.current();
      expect(before.sessions.ephemeral).toBe(true);
      const token = await sealed(before.sessions.keyring);
      expect(holder.reload()).toBe(true);
      expect(holder.current()).not.toBe(before);
      expect(await opens(holder.current().sessions.keyring, token)).toBe(true);
    } finally {
      holder.close();
    }
  });

  it('is not shared by two apps in one process: a token of one does not open in the other', async () => {
    const a = loadConfigFile(file);
    const b = loadConfigFile(file);
    const token = await sealed(a.sessions.keyring);
    expect(await opens(a.sessions.keyring, token)).toBe(true);
    expect(await opens(b.sessions.keyring, token)).toBe(false);
  });
});
