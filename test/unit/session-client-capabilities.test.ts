// The client's capabilities for server requests travel in the session token; tokens without them open as before.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createKeyring } from '../../src/core/session/keys.js';
import { openSession, sealSession } from '../../src/core/session/token.js';
import { clientCapabilitiesOf, type BackendSessionId, type CapabilitySet } from '../../src/core/session/types.js';

const keyring = createKeyring({ current: { kid: 'k1', secret: randomBytes(32).toString('base64url') } });
const backends = new Map([['billing', { sessionId: 'abc' as BackendSessionId, protocolVersion: '2025-11-25', capabilities: 0 as CapabilitySet }]]);

describe('client capabilities in the session token', () => {
  it.each<[string, unknown, number]>([
    ['none declared', {}, 0],
    ['no capabilities object', undefined, 0],
    ['sampling', { sampling: {} }, 1],
    ['elicitation with form mode', { elicitation: { form: {} } }, 2],
    ['roots', { roots: { listChanged: true } }, 4],
    ['all three and others', { sampling: {}, elicitation: {}, roots: {}, experimental: {} }, 7],
    ['sampling: false', { sampling: false }, 0],
  ])('reads %s', (_name, capabilities, bits) => {
    expect(clientCapabilitiesOf(capabilities)).toBe(bits);
  });

  it('round-trips through seal and open, and is absent when the client declared none', async () => {
    const withCaps = await sealSession(keyring, { subject: 'u', backends, clientCapabilities: clientCapabilitiesOf({ sampling: {}, roots: {} }) }, { ttlSeconds: 60 });
    const opened = await openSession(keyring, withCaps, { expectedSubject: 'u' });
    expect(opened.ok && opened.session.clientCapabilities).toBe(5);
    const without = await sealSession(keyring, { subject: 'u', backends, clientCapabilities: clientCapabilitiesOf({}) }, { ttlSeconds: 60 });
    const plain = await openSession(keyring, without, { expectedSubject: 'u' });
    expect(plain.ok && 'clientCapabilities' in plain.session).toBe(false);
  });
});
