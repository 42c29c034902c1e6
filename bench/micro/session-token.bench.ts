// Session token cost per request: seal and open for 5 backends, against jose's WebCrypto path. Run:
//   npx vitest bench --run bench/micro/session-token.bench.ts
import { randomBytes, randomUUID } from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { bench, describe } from 'vitest';
import { jweOpen, jweSeal } from '../../src/core/session/jwe.js';
import { createKeyring } from '../../src/core/session/keys.js';
import { openSession, sealSession } from '../../src/core/session/token.js';
import {
  capabilitySetOf,
  toBackendSessionId,
  type BackendEntry,
  type ClientSessionToken,
  type SessionPayload,
} from '../../src/core/session/types.js';

const secret = randomBytes(32).toString('base64url');
const keyring = createKeyring({ current: { kid: 'k-2026-03', secret } });
const subject = randomUUID();

function payloadWith(backendCount: number): SessionPayload {
  const entry = (): BackendEntry => ({
    sessionId: toBackendSessionId(randomUUID()),
    protocolVersion: '2025-11-25',
    capabilities: capabilitySetOf('tools', 'tools.listChanged', 'resources', 'prompts', 'logging'),
  });
  return { subject, backends: new Map(Array.from({ length: backendCount }, (_, i) => [`backend-${i + 1}`, entry()])) };
}

const options = { ttlSeconds: 3600 };
const five = payloadWith(5);
const fiveToken: ClientSessionToken = await sealSession(keyring, five, options);

for (const n of [1, 5, 10]) {
  const token = await sealSession(keyring, payloadWith(n), options);
  console.log(`session token, ${n} backend(s) with UUID ids: ${token.length} bytes`);
}

// The same plaintext through jose, with a CryptoKey imported once, as the reference to beat.
const joseKey = await crypto.subtle.importKey('raw', Buffer.from(secret, 'base64url'), 'AES-GCM', false, ['encrypt', 'decrypt']);
const plaintext = (await compactDecrypt(fiveToken, Buffer.from(secret, 'base64url'))).plaintext;
const joseSeal = () => new CompactEncrypt(plaintext).setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: 'k-2026-03' }).encrypt(joseKey);

describe('session token, 5 backends', () => {
  bench('sealSession', async () => {
    await sealSession(keyring, five, options);
  });
  bench('openSession', async () => {
    const result = await openSession(keyring, fiveToken, { expectedSubject: subject });
    if (!result.ok) throw new Error(result.reason);
  });
  bench('sealSession + openSession', async () => {
    const token = await sealSession(keyring, five, options);
    const result = await openSession(keyring, token, { expectedSubject: subject });
    if (!result.ok) throw new Error(result.reason);
  });
  bench('node:crypto jweSeal + jweOpen (same plaintext, encryption only)', () => {
    if (!jweOpen(keyring, jweSeal(keyring.current, plaintext)).ok) throw new Error('jwe');
  });
  bench('jose CompactEncrypt + compactDecrypt (same plaintext, encryption only)', async () => {
    await compactDecrypt(await joseSeal(), joseKey);
  });
});
