import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fromStruct, toStruct } from '../../src/envoy/struct.js';
import {
  bodyMatches, canonical, HANDOFF_CLOCK_SKEW_MS, HANDOFF_MAX_AGE_MS, signHandoff, verifyHandoff, type HandoffCheck, type HandoffValue,
} from '../../src/core/session/handoff.js';
import { createKeyring, type KeySpec } from '../../src/core/session/keys.js';

const k1: KeySpec = { kid: 'k1', secret: randomBytes(32).toString('base64url') };
const k2: KeySpec = { kid: 'k2', secret: randomBytes(32).toString('base64url') };
const NOW = 1_760_000_000_000;
const RID = '5f0c7a2e-2f4b-4a57-9d7e-1c1f0f7f7d01';
const BODY = Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"refund","arguments":{"amount":20}}}');
const FIELDS = {
  subject: 'agent-7', task: 'refunds', decision_id: 'd-1', method: 'tools/call', target: 'refund',
  tasks: ['refunds', 'reporting'], traceparent: undefined, charges: { quota: 1, budget: 20.5, nested: [true, null, 'x'] },
};

/** What ext_proc reads: the metadata after a Struct round trip, with Envoy's own field added on the way. */
function overTheWire(meta: Record<string, HandoffValue>, envoyAdds: Record<string, unknown> = { ext_authz_duration: 3 }): Record<string, unknown> {
  return { ...fromStruct(toStruct(meta)), ...envoyAdds };
}

const sign = (keys = createKeyring({ current: k1 }), facts: { requestId?: string | undefined; body?: Uint8Array | undefined; now?: number } = {}) =>
  signHandoff(keys, FIELDS, { requestId: 'requestId' in facts ? facts.requestId : RID, body: 'body' in facts ? facts.body : BODY, now: facts.now ?? NOW });

function reason(check: HandoffCheck): string {
  return check.ok ? 'ok' : check.reason;
}

describe('signHandoff → verifyHandoff', () => {
  it('verifies what it signed after a Struct round trip, and gives back every signed field', () => {
    const keys = createKeyring({ current: k1 });
    const check = verifyHandoff(keys, overTheWire(sign(keys)), RID, NOW + 5);
    expect(check.ok).toBe(true);
    if (!check.ok) return;
    expect(check.fields).toMatchObject({ subject: 'agent-7', task: 'refunds', tasks: ['refunds', 'reporting'], charges: { quota: 1, budget: 20.5, nested: [true, null, 'x'] }, request_id: RID });
    expect(check.fields).not.toHaveProperty('ext_authz_duration');
    expect(check.fields).not.toHaveProperty('handoff_mac');
  });

  it('verifies on another replica that derived its keyring from the same secret', () => {
    const signed = sign(createKeyring({ current: k1 }));
    expect(reason(verifyHandoff(createKeyring({ current: { ...k1, secret: `${k1.secret}\n` } }), overTheWire(signed), RID, NOW))).toBe('ok');
  });

  it.each(Object.keys(FIELDS).filter((k) => k !== 'traceparent').concat(['request_id', 'issued_at', 'body_sha256']))('refuses a handoff whose %s was changed', (field) => {
    const keys = createKeyring({ current: k1 });
    const meta = overTheWire(sign(keys));
    const original = meta[field];
    meta[field] = typeof original === 'number' ? original + 1 : typeof original === 'string' ? `${original}x` : { changed: true };
    // A changed request id or issue time would fail their own checks too: the MAC is what must catch it first.
    expect(reason(verifyHandoff(keys, meta, typeof meta.request_id === 'string' ? meta.request_id : RID, NOW))).toBe('bad-mac');
  });

  it.each([
    ['an added field', (m: Record<string, unknown>) => { m.quota_charged = 0; }],
    ['a removed field', (m: Record<string, unknown>) => { delete m.task; }],
    ['a removed body digest', (m: Record<string, unknown>) => { delete m.body_sha256; }],
    ['the traceparent added', (m: Record<string, unknown>) => { m.traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'; }],
    ['another mac', (m: Record<string, unknown>) => { m.handoff_mac = randomBytes(32).toString('base64url'); }],
    ['a truncated mac', (m: Record<string, unknown>) => { m.handoff_mac = String(m.handoff_mac).slice(0, 20); }],
  ])('refuses %s', (_name, tamper) => {
    const keys = createKeyring({ current: k1 });
    const meta = overTheWire(sign(keys));
    tamper(meta);
    expect(reason(verifyHandoff(keys, meta, RID, NOW))).toBe('bad-mac');
  });

  it('counts an own __proto__ field like any other (unsigned, so refused), and never reads fields through a prototype', () => {
    const keys = createKeyring({ current: k1 });
    const meta = overTheWire(sign(keys));
    Object.defineProperty(meta, '__proto__', { value: { target: 'other-tool' }, enumerable: true, configurable: true, writable: true });
    expect(reason(verifyHandoff(keys, meta, RID, NOW))).toBe('bad-mac');
    const inherited = Object.assign(Object.create({ target: 'other-tool', scope: 'admin' }) as Record<string, unknown>, overTheWire(sign(keys)));
    const check = verifyHandoff(keys, inherited, RID, NOW);
    expect(check.ok && [check.fields.target, check.fields.scope]).toEqual(['refund', undefined]);
  });

  it('ignores only the field Envoy itself adds (ext_authz_duration), whatever its value', () => {
    const keys = createKeyring({ current: k1 });
    expect(reason(verifyHandoff(keys, overTheWire(sign(keys), { ext_authz_duration: 'anything' }), RID, NOW))).toBe('ok');
    expect(reason(verifyHandoff(keys, overTheWire(sign(keys), {}), RID, NOW))).toBe('ok');
  });

  it('refuses a handoff signed with another key under the same kid', () => {
    const signed = sign(createKeyring({ current: { kid: 'k1', secret: k2.secret } }));
    expect(reason(verifyHandoff(createKeyring({ current: k1 }), overTheWire(signed), RID, NOW))).toBe('bad-mac');
  });

  it('refuses a kid the keyring does not hold, and a kid swapped for another known one', () => {
    const signed = sign(createKeyring({ current: k2 }));
    expect(reason(verifyHandoff(createKeyring({ current: k1 }), overTheWire(signed), RID, NOW))).toBe('unknown-key');
    const swapped = { ...overTheWire(signed), handoff_kid: 'k1' };
    expect(reason(verifyHandoff(createKeyring({ current: k2, previous: [k1] }), swapped, RID, NOW))).toBe('bad-mac');
  });

  it('keeps verifying across a rotation: signed with the old key, verified by a keyring where it is previous', () => {
    const before = sign(createKeyring({ current: k1 }));
    const rotated = createKeyring({ current: k2, previous: [k1] });
    expect(reason(verifyHandoff(rotated, overTheWire(before), RID, NOW))).toBe('ok');
    const after = sign(rotated);
    expect(after.handoff_kid).toBe('k2');
    expect(reason(verifyHandoff(rotated, overTheWire(after), RID, NOW))).toBe('ok');
    // A replica that has not rolled out k2 yet cannot verify what k2 signed.
    expect(reason(verifyHandoff(createKeyring({ current: k1 }), overTheWire(after), RID, NOW))).toBe('unknown-key');
  });

  it('derives a MAC key of its own per kid, apart from the session encryption key', () => {
    const a = createKeyring({ current: { kid: 'a', secret: k1.secret } }).current;
    const b = createKeyring({ current: { kid: 'b', secret: k1.secret } }).current;
    expect(a.handoffKey.export().equals(b.handoffKey.export())).toBe(false);
    expect(a.handoffKey.export().equals(a.key.export())).toBe(false);
    expect(a.handoffKey.symmetricKeySize).toBe(32);
  });

  it.each([
    ['just issued', 0, 'ok'],
    ['at the age limit', HANDOFF_MAX_AGE_MS, 'ok'],
    ['past the age limit', HANDOFF_MAX_AGE_MS + 1, 'expired'],
    ['an hour old', 3_600_000, 'expired'],
    ['issued slightly ahead (clock skew between replicas)', -HANDOFF_CLOCK_SKEW_MS, 'ok'],
    ['issued beyond the allowed skew', -HANDOFF_CLOCK_SKEW_MS - 1, 'issued-in-future'],
  ])('time: a handoff %s → %s', (_name, age, expected) => {
    const keys = createKeyring({ current: k1 });
    expect(reason(verifyHandoff(keys, overTheWire(sign(keys)), RID, NOW + age))).toBe(expected);
  });

  it.each([
    ['another request id', RID, 'another-request', 'request-id-mismatch'],
    ['no request id on the stream', RID, undefined, 'request-id-mismatch'],
    ['an empty request id on the stream', RID, '', 'request-id-mismatch'],
    ['signed without a request id, presented with one', undefined, RID, 'request-id-mismatch'],
    ['signed and presented without one', undefined, undefined, 'request-id-mismatch'],
  ])('request id: %s → %s', (_name, signedFor, presented, expected) => {
    const keys = createKeyring({ current: k1 });
    expect(reason(verifyHandoff(keys, overTheWire(sign(keys, { requestId: signedFor })), presented, NOW))).toBe(expected);
  });

  it.each([
    ['no metadata at all', {}, 'missing'],
    ['identity without a signature (the forged-metadata attack)', { subject: 'victim', method: 'initialize' }, 'missing'],
    ['a numeric mac', { subject: 'x', handoff_mac: 1, handoff_kid: 'k1' }, 'malformed'],
    ['a mac without a kid', { subject: 'x', handoff_mac: 'abc' }, 'malformed'],
  ])('refuses %s', (_name, meta, expected) => {
    expect(reason(verifyHandoff(createKeyring({ current: k1 }), meta, RID, NOW))).toBe(expected);
  });

  it('keeps its own field names to itself: a field named like one never stands in for it', () => {
    const keys = createKeyring({ current: k1 });
    const signed = signHandoff(keys, { subject: 'x', issued_at: 'yesterday', request_id: 'chosen', handoff_kid: 'k9', body_sha256: 'zz' }, { requestId: undefined, body: undefined, now: NOW });
    expect(signed).not.toHaveProperty('request_id');
    expect(signed).not.toHaveProperty('body_sha256');
    expect(signed).toMatchObject({ issued_at: NOW, handoff_kid: 'k1' });
    expect(reason(verifyHandoff(keys, overTheWire(signed), 'chosen', NOW))).toBe('request-id-mismatch');
  });
});

describe('bodyMatches', () => {
  const keys = createKeyring({ current: k1 });
  const verified = (body: Uint8Array | undefined) => {
    const check = verifyHandoff(keys, overTheWire(sign(keys, { body })), RID, NOW);
    if (!check.ok) throw new Error(check.detail);
    return check;
  };

  it('accepts exactly the bytes Check judged', () => {
    expect(bodyMatches(verified(BODY), Buffer.from(BODY))).toBe(true);
  });

  it.each([
    ['one byte changed', Buffer.from(BODY.toString().replace('20', '90'))],
    ['a trailing space', Buffer.concat([BODY, Buffer.from(' ')])],
    ['the same JSON re-serialized', Buffer.from(JSON.stringify(JSON.parse(BODY.toString()), null, 1))],
    ['an empty body', Buffer.alloc(0)],
  ])('refuses %s', (_name, body) => {
    expect(bodyMatches(verified(BODY), body)).toBe(false);
  });

  it('a handoff that saw no body accepts only an empty one', () => {
    expect(verified(undefined).bodyDigest).toBeUndefined();
    expect(verified(Buffer.alloc(0)).bodyDigest).toBeUndefined();
    expect(bodyMatches(verified(undefined), Buffer.alloc(0))).toBe(true);
    expect(bodyMatches(verified(undefined), BODY)).toBe(false);
  });
});

describe('canonical', () => {
  it('is independent of key order and drops undefined members, as a Struct round trip does', () => {
    expect(canonical({ b: 1, a: [1, 'x', null], c: undefined, d: { z: true, y: false } })).toBe(canonical({ d: { y: false, z: true }, a: [1, 'x', null], b: 1 }));
    const value = { s: 'é\u2028"', n: 0.1 + 0.2, i: -0, big: 2 ** 53 + 2, l: [[], {}], o: { k: null } };
    expect(canonical(fromStruct(toStruct(value)))).toBe(canonical(value));
  });

  it('tells apart values that print alike elsewhere', () => {
    expect(canonical({ a: '1' })).not.toBe(canonical({ a: 1 }));
    expect(canonical({ a: [1, 2] })).not.toBe(canonical({ a: '1,2' }));
    expect(canonical({ 'a":1,"b': 2 })).not.toBe(canonical({ a: 1, b: 2 }));
  });
});
