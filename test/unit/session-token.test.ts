import { randomBytes, randomUUID } from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { describe, expect, it } from 'vitest';
import { createKeyring } from '../../src/core/session/keys.js';
import {
  getBackend,
  openSession,
  resealSession,
  sealSession,
  withBackend,
  withoutBackend,
} from '../../src/core/session/token.js';
import {
  asClientSessionToken,
  capabilitySetOf,
  NO_CAPABILITIES,
  toBackendSessionId,
  type BackendEntry,
  type BackendSessionId,
  type CapabilitySet,
  type ClientSessionToken,
  type SessionPayload,
} from '../../src/core/session/types.js';

const rawKey = (): string => randomBytes(32).toString('base64url');
const SECRET_2025 = rawKey();
const SECRET_2026 = rawKey();
const OLD = { kid: 'k-2025', secret: SECRET_2025 };
const NEW = { kid: 'k-2026', secret: SECRET_2026 };
const beforeRotation = createKeyring({ current: OLD });
const duringRotation = createKeyring({ current: NEW, previous: [OLD] });
const afterRotation = createKeyring({ current: NEW });

const SUBJECT = 'agent-7f3c2a10-5b2e-4c8e-9d61-0a4f3e2b1c9d';
const T0 = new Date('2026-03-01T12:00:00Z');
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);
const TTL = 3600;

const id = (raw: string): BackendSessionId => {
  const parsed = toBackendSessionId(raw);
  if (parsed === undefined) throw new Error(`bad fixture id ${raw}`);
  return parsed;
};
const stateful = (sessionId: string, protocolVersion = '2025-11-25'): BackendEntry => ({
  sessionId: id(sessionId),
  protocolVersion,
  capabilities: capabilitySetOf('tools', 'tools.listChanged', 'logging'),
});
const payloadOf = (backends: Record<string, BackendEntry>, subject = SUBJECT): SessionPayload => ({
  subject,
  backends: new Map(Object.entries(backends)),
});
const fiveBackends = (): SessionPayload =>
  payloadOf(Object.fromEntries(['billing', 'inventory', 'crm', 'search', 'documents'].map((n) => [n, stateful(randomUUID())])));

const seal = (payload: SessionPayload = fiveBackends(), keyring = beforeRotation): Promise<ClientSessionToken> =>
  sealSession(keyring, payload, { ttlSeconds: TTL, now: T0 });
const open = (token: string, keyring = beforeRotation, subject = SUBJECT, now = at(1)) =>
  openSession(keyring, asClientSessionToken(token), { expectedSubject: subject, now });

describe('sealSession / openSession round trip', () => {
  it.each<[string, [string, BackendEntry][]]>([
    ['one stateful backend (dashed UUID)', [['billing', stateful(randomUUID())]]],
    ['a stateless backend', [['weather', { protocolVersion: '2026-07-28', capabilities: NO_CAPABILITIES }]]],
    ['an undashed hex id (Python SDK)', [['py', stateful(randomUUID().replaceAll('-', ''))]]],
    ['an uppercase UUID, kept verbatim', [['up', stateful(randomUUID().toUpperCase())]]],
    ['an opaque id with punctuation', [['odd', stateful('sess_01J!~{"x"}:/?#')]]],
    ['an odd-length hex id', [['hex', stateful('abc')]]],
    ['a protocol version that is not a date', [['draft', stateful(randomUUID(), 'DRAFT-2026-v1')]]],
    ['a version from before 2010 (not packed)', [['old', stateful(randomUUID(), '2009-01-01')]]],
    ['capability bits this build does not know', [['future', { protocolVersion: '2025-06-18', capabilities: (capabilitySetOf('tools') | (1 << 30)) as CapabilitySet }]]],
    ['backend names that shadow Object.prototype', [['__proto__', stateful(randomUUID())], ['constructor', stateful(randomUUID())]]],
    [
      'backends on different protocol versions',
      [
        ['a', stateful(randomUUID(), '2025-06-18')],
        ['b', stateful(randomUUID(), '2025-11-25')],
        ['c', stateful(randomUUID(), '2025-11-25')],
        ['d', { protocolVersion: '2026-07-28', capabilities: NO_CAPABILITIES }],
      ],
    ],
    ['no backends at all', []],
  ])('%s', async (_name, entries) => {
    const payload: SessionPayload = { subject: SUBJECT, backends: new Map(entries) };
    const result = await open(await seal(payload));
    expect(result).toEqual({
      ok: true,
      session: { ...payload, tokenId: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/), issuedAt: T0.getTime() / 1000, expiresAt: T0.getTime() / 1000 + TTL },
    });
  });

  it('produces a visible-ASCII base64url JWE that fits an HTTP header', async () => {
    expect(await seal()).toMatch(/^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
  });

  it('gives every new session its own token id and IV', async () => {
    const payload = fiveBackends();
    const [a, b] = await Promise.all([seal(payload), seal(payload)]);
    expect(a).not.toBe(b);
    const [oa, ob] = await Promise.all([open(a), open(b)]);
    expect(oa.ok && ob.ok && oa.session.tokenId !== ob.session.tokenId).toBe(true);
  });

  it('stays under 1 KB for five backends with UUID session ids', async () => {
    expect(Buffer.byteLength(await seal(fiveBackends()), 'ascii')).toBeLessThan(1024);
  });
});

describe('refusals', () => {
  const segment = (token: string, index: number, edit: (part: string) => string): string =>
    token.split('.').map((part, i) => (i === index ? edit(part) : part)).join('.');
  const flipMiddle = (part: string): string => {
    const mid = part.length >> 1;
    return part.slice(0, mid) + (part[mid] === 'A' ? 'B' : 'A') + part.slice(mid + 1);
  };
  const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const flipSpareBits = (part: string): string => part.slice(0, -1) + B64URL[B64URL.indexOf(part.slice(-1)) ^ 1];

  it.each([
    // The header is deterministic; this flip breaks its JSON.
    ['protected header, one character flipped', 'malformed', 0, flipMiddle],
    ['encrypted key (must be empty for dir), one character added', 'malformed', 1, () => 'A'],
    ['IV, one character flipped', 'tampered', 2, flipMiddle],
    ['ciphertext, one character flipped', 'tampered', 3, flipMiddle],
    ['tag, one character flipped', 'tampered', 4, flipMiddle],
    // Base64url's last character carries spare bits; decoders ignore them, so this one is refused by the canonical check.
    ['tag, last character changed only in its spare bits', 'malformed', 4, flipSpareBits],
    ['tag truncated to 15 bytes', 'malformed', 4, (p: string) => Buffer.from(p, 'base64url').subarray(0, 15).toString('base64url')],
    ['ciphertext with base64 padding appended', 'malformed', 3, (p: string) => `${p}==`],
    ['header naming another known key', 'tampered', 0, () => duringRotation.current.protectedHeader],
    ['header asking for compression', 'malformed', 0, () => b64json({ alg: 'dir', enc: 'A256GCM', kid: OLD.kid, zip: 'DEF' })],
    ['header with a critical extension', 'malformed', 0, () => b64json({ alg: 'dir', enc: 'A256GCM', kid: OLD.kid, crit: ['exp'], exp: 1 })],
    ['header with another algorithm', 'malformed', 0, () => b64json({ alg: 'A256KW', enc: 'A256GCM', kid: OLD.kid })],
    ['header without kid', 'malformed', 0, () => b64json({ alg: 'dir', enc: 'A256GCM' })],
  ] as const)('%s → %s', async (_name, reason, index, edit) => {
    const keyring = duringRotation; // knows both kids, so a swapped kid reaches decryption
    const token = await seal(fiveBackends(), createKeyring({ current: OLD, previous: [NEW] }));
    expect(await open(segment(token, index, edit), keyring)).toEqual({ ok: false, reason });
  });

  it('refuses every single-character change anywhere in the token', async () => {
    const token = await seal();
    const results = await Promise.all(
      [...token].map((c, i) => open(token.slice(0, i) + (c === 'A' ? 'B' : 'A') + token.slice(i + 1))),
    );
    expect(results.filter((r) => r.ok)).toEqual([]);
  });

  it.each([
    ['empty string', ''],
    ['a word', 'hello'],
    ['only dots', '....'],
    ['five empty-ish parts', 'a.b.c.d.e'],
    ['a raw backend UUID', randomUUID()],
    ['a signed JWT shape', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'],
    ['a megabyte of base64url', 'A'.repeat(1 << 20)],
    ['non-ASCII', 'é.ü.ñ.ø.ß'],
  ])('garbage: %s → malformed', async (_name, garbage) => {
    expect(await open(garbage)).toEqual({ ok: false, reason: 'malformed' });
  });

  it.each([
    ['one second before expiry', TTL - 1, true],
    ['at the expiry second', TTL, false],
    ['a day later', 86_400, false],
  ])('%s', async (_name, offset, ok) => {
    const result = await open(await seal(), beforeRotation, SUBJECT, at(offset));
    expect(result.ok ? true : result.reason).toBe(ok ? true : 'expired');
  });

  it.each([
    ['another subject', 'agent-someone-else'],
    ['a prefix of the subject', SUBJECT.slice(0, -1)],
    ['the subject with different case', SUBJECT.toUpperCase()],
    ['an empty subject', ''],
  ])('presented by %s → wrong-subject', async (_name, subject) => {
    expect(await open(await seal(), beforeRotation, subject)).toEqual({ ok: false, reason: 'wrong-subject' });
  });

  it('reports wrong-subject even when the token has also expired', async () => {
    expect(await open(await seal(), beforeRotation, 'intruder', at(TTL * 2))).toEqual({ ok: false, reason: 'wrong-subject' });
  });

  it('does not accept a backend session id where a client token belongs', async () => {
    const backendId = id(randomUUID());
    // @ts-expect-error the brands keep backend ids and client tokens apart at compile time
    const result = await openSession(beforeRotation, backendId, { expectedSubject: SUBJECT, now: T0 });
    expect(result).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('key rotation', () => {
  it.each([
    ['the keyring that sealed it', beforeRotation, { ok: true }],
    ['the rotated keyring (old key in previous)', duringRotation, { ok: true }],
    ['a keyring that dropped the old key', afterRotation, { ok: false, reason: 'unknown-key' }],
    ['an unrelated keyring', createKeyring({ current: { kid: 'elsewhere', secret: rawKey() } }), { ok: false, reason: 'unknown-key' }],
    ['a keyring with the same kid but another secret', createKeyring({ current: { kid: OLD.kid, secret: rawKey() } }), { ok: false, reason: 'tampered' }],
  ])('a token sealed with the old key, opened by %s', async (_name, keyring, expected) => {
    expect(await open(await seal(fiveBackends(), beforeRotation), keyring)).toMatchObject(expected);
  });

  it('re-sealing moves a session onto the current key', async () => {
    const opened = await open(await seal(fiveBackends(), beforeRotation), duringRotation);
    if (!opened.ok) throw new Error(opened.reason);
    const resealed = await resealSession(duringRotation, opened.session, { ttlSeconds: TTL, now: at(10) });
    expect(resealed.startsWith(duringRotation.current.protectedHeader)).toBe(true);
    expect((await open(resealed, afterRotation, SUBJECT, at(11))).ok).toBe(true);
  });
});

describe('updating one backend', () => {
  it('re-seals with the same token id and issue time, a new expiry and the new entry', async () => {
    const first = await open(await seal(payloadOf({ billing: stateful(randomUUID()), crm: stateful(randomUUID()) })));
    if (!first.ok) throw new Error(first.reason);
    const reinitialized = stateful(randomUUID(), '2025-06-18');
    const updated = withoutBackend(withBackend(first.session, 'billing', reinitialized), 'crm');
    const token = await resealSession(beforeRotation, updated, { ttlSeconds: TTL, now: at(600) });
    const second = await open(token, beforeRotation, SUBJECT, at(601));
    if (!second.ok) throw new Error(second.reason);
    expect(second.session).toEqual({
      ...first.session,
      backends: new Map([['billing', reinitialized]]),
      expiresAt: first.session.expiresAt + 600,
    });
    expect(getBackend(first.session, 'crm')).toBeDefined(); // the original is left untouched
  });

  it.each(['missing', 'toString', '__proto__'])('reads no entry for unknown backend %s', async (name) => {
    const opened = await open(await seal(payloadOf({ billing: stateful(randomUUID()) })));
    expect(opened.ok && getBackend(opened.session, name)).toBeUndefined();
  });
});

describe('wire compatibility with jose', () => {
  const key = Buffer.from(SECRET_2025, 'base64url');

  it('jose opens what sealSession produced', async () => {
    const { plaintext, protectedHeader } = await compactDecrypt(await seal(), key);
    expect(protectedHeader).toEqual({ alg: 'dir', enc: 'A256GCM', kid: OLD.kid });
    expect(JSON.parse(new TextDecoder().decode(plaintext))).toMatchObject({ s: SUBJECT, j: expect.any(String) });
  });

  const joseSealed = (payload: unknown): Promise<string> =>
    new CompactEncrypt(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: OLD.kid })
      .encrypt(key);
  const nowS = T0.getTime() / 1000;
  const uuid = randomUUID();

  it.each<[string, unknown, object]>([
    ['a v1 session', { s: SUBJECT, i: nowS, e: nowS + 60, j: 'abc', b: { x: { u: Buffer.from(uuid.replaceAll('-', ''), 'hex').toString('base64url'), v: 251125, c: 3 } } }, { ok: true }],
    ['a v1 session with a field from a later version', { s: SUBJECT, i: nowS, e: nowS + 60, j: 'abc', b: {}, later: 1 }, { ok: true }],
    ['format 2', { f: 2, s: SUBJECT, i: nowS, e: nowS + 60, j: 'abc', b: {} }, { ok: false, reason: 'malformed' }],
    ['a JSON array', [1, 2, 3], { ok: false, reason: 'malformed' }],
    ['an entry with two ids', { s: SUBJECT, i: nowS, e: nowS + 60, j: 'abc', b: { x: { d: 'a', h: 'ab', v: 251125 } } }, { ok: false, reason: 'malformed' }],
    ['an entry without version', { s: SUBJECT, i: nowS, e: nowS + 60, j: 'abc', b: { x: { d: 'a' } } }, { ok: false, reason: 'malformed' }],
    ['a non-integer expiry', { s: SUBJECT, i: nowS, e: 'soon', j: 'abc', b: {} }, { ok: false, reason: 'malformed' }],
  ])('openSession reads a jose-sealed token: %s', async (_name, payload, expected) => {
    expect(await open(await joseSealed(payload))).toMatchObject(expected);
  });

  it('decodes the compact entry fields of a jose-sealed token', async () => {
    const u = Buffer.from(uuid.replaceAll('-', ''), 'hex').toString('base64url');
    const b = { x: { u, c: 3 }, y: { v: 'draft' }, z: { h: 'q83v', v: 250618 } };
    const result = await open(await joseSealed({ s: SUBJECT, i: nowS, e: nowS + 60, j: 'abc', v: 251125, b }));
    expect(result.ok && [...result.session.backends]).toEqual([
      ['x', { sessionId: uuid, protocolVersion: '2025-11-25', capabilities: 3 }],
      ['y', { sessionId: undefined, protocolVersion: 'draft', capabilities: 0 }],
      ['z', { sessionId: 'abcdef', protocolVersion: '2025-06-18', capabilities: 0 }],
    ]);
  });
});

describe('programmer errors throw', () => {
  it.each([0, -1, 1.5, Number.NaN])('ttlSeconds %s', async (ttlSeconds) => {
    await expect(sealSession(beforeRotation, fiveBackends(), { ttlSeconds })).rejects.toThrow(RangeError);
  });

  it('an empty subject', async () => {
    await expect(sealSession(beforeRotation, payloadOf({}, ''), { ttlSeconds: TTL })).rejects.toThrow(TypeError);
  });

  it('a session too large to ever be opened', async () => {
    const huge = payloadOf({ big: stateful('x'.repeat(9000)) });
    await expect(sealSession(beforeRotation, huge, { ttlSeconds: TTL })).rejects.toThrow(/exceeds/);
  });
});

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
