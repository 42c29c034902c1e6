import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { compactDecrypt } from 'jose';
import { describe, expect, it } from 'vitest';
import { createKeyring, KeyringError, type KeyringSpec } from '../../src/core/session/keys.js';
import { openSession, sealSession } from '../../src/core/session/token.js';
import type { SessionPayload } from '../../src/core/session/types.js';

const PASSPHRASE = 'correct horse battery staple, plus 32 more bytes!';
const RAW = randomBytes(32).toString('base64url');
const payload: SessionPayload = { subject: 'agent-1', backends: new Map() };

const sealWith = (spec: KeyringSpec) => sealSession(createKeyring(spec), payload, { ttlSeconds: 60 });
const opensWith = async (spec: KeyringSpec, token: Awaited<ReturnType<typeof sealWith>>) =>
  (await openSession(createKeyring(spec), token, { expectedSubject: 'agent-1' })).ok;

describe('createKeyring', () => {
  it('uses a base64url 32-byte secret as the AES key itself', async () => {
    const token = await sealWith({ current: { kid: 'k1', secret: RAW } });
    const { plaintext } = await compactDecrypt(token, Buffer.from(RAW, 'base64url'));
    expect(plaintext.length).toBeGreaterThan(0);
  });

  it.each([
    ['a passphrase', PASSPHRASE, PASSPHRASE],
    ['a passphrase read from a file with a trailing newline', PASSPHRASE, `${PASSPHRASE}\n`],
    ['a raw key with surrounding whitespace', RAW, `  ${RAW}\r\n`],
    ['standard padded base64 (openssl rand -base64 32)', 'q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJ/+s=', 'q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJ/+s='],
  ])('derives the same key on every replica from %s', async (_name, sealingSecret, openingSecret) => {
    const token = await sealWith({ current: { kid: 'k1', secret: sealingSecret } });
    expect(await opensWith({ current: { kid: 'k1', secret: openingSecret } }, token)).toBe(true);
  });

  it('does not treat a passphrase as the key bytes', async () => {
    const token = await sealWith({ current: { kid: 'k1', secret: PASSPHRASE } });
    await expect(compactDecrypt(token, Buffer.from(PASSPHRASE).subarray(0, 32))).rejects.toThrow();
  });

  it.each<[string, KeyringSpec]>([
    ['a secret shorter than 32 bytes', { current: { kid: 'k1', secret: 'short-secret' } }],
    ['a placeholder secret', { current: { kid: 'k1', secret: 'x'.repeat(64) } }],
    ['a repeated word', { current: { kid: 'k1', secret: 'changeme'.repeat(5) } }],
    ['an empty kid', { current: { kid: '', secret: RAW } }],
    ['a kid with a quote', { current: { kid: 'k"1', secret: RAW } }],
    ['a kid of 65 characters', { current: { kid: 'k'.repeat(65), secret: RAW } }],
    ['a duplicate kid', { current: { kid: 'k1', secret: RAW }, previous: [{ kid: 'k1', secret: PASSPHRASE }] }],
    ['the same secret under two kids', { current: { kid: 'k2', secret: RAW }, previous: [{ kid: 'k1', secret: ` ${RAW}` }] }],
  ])('refuses %s at start-up', (_name, spec) => {
    expect(() => createKeyring(spec)).toThrow(KeyringError);
  });

  it('lists its kids, current first, and never prints secret material', () => {
    const keyring = createKeyring({ current: { kid: 'k2', secret: RAW }, previous: [{ kid: 'k1', secret: PASSPHRASE }] });
    expect(keyring.kids).toEqual(['k2', 'k1']);
    const printed = [JSON.stringify(keyring), inspect(keyring, { depth: 5 }), inspect(keyring.current, { depth: 5 })].join('\n');
    expect(printed).not.toContain(RAW);
    expect(printed).not.toContain(PASSPHRASE);
    expect(printed).not.toContain(Buffer.from(RAW, 'base64url').toString('hex'));
  });

  it('finds keys by kid only', () => {
    const keyring = createKeyring({ current: { kid: 'k2', secret: RAW }, previous: [{ kid: 'k1', secret: PASSPHRASE }] });
    expect([keyring.find('k1')?.kid, keyring.find('k2')?.kid, keyring.find('k3')]).toEqual(['k1', 'k2', undefined]);
  });
});
