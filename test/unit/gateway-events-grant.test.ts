// The event-stream grant ext_proc mints and the event-stream server checks; and the cursor Last-Event-ID carries.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../src/pipeline/fanout/event-cursor.js';
import { mintEventsGrant, openEventsGrant } from '../../src/pipeline/extproc/events-grant.js';
import { createKeyring } from '../../src/core/session/keys.js';

const K1 = { kid: 'k1', secret: randomBytes(32).toString('base64url') };
const keyring = createKeyring({ current: K1 });
const NOW = 1_800_000_000_000;
const TOKEN = 'eyJ.token.of.the.session';

describe('events grant', () => {
  const grant = mintEventsGrant(keyring, TOKEN, 'user-1', NOW);

  it('opens for the token it was minted with, naming the subject', () => {
    expect(openEventsGrant(keyring, grant, TOKEN, NOW + 1000)).toBe('user-1');
    expect(openEventsGrant(createKeyring({ current: { kid: 'k2', secret: randomBytes(32).toString('base64url') }, previous: [K1] }), grant, TOKEN, NOW)).toBe('user-1');
  });

  it.each<[string, string | undefined, string, number]>([
    ['no grant', undefined, TOKEN, NOW],
    ['another session token', grant, `${TOKEN}x`, NOW],
    ['an expired grant', grant, TOKEN, NOW + 31_000],
    ['another subject', grant.replace(/\.[^.]+\./, `.${Buffer.from('admin').toString('base64url')}.`), TOKEN, NOW],
    ['a later expiry', grant.replace(/^\d+/, (e) => String(Number(e) + 3600)), TOKEN, NOW],
    ['a changed tag', grant.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), TOKEN, NOW],
    ['an extra part', `${grant}.x`, TOKEN, NOW],
    ['a non-numeric expiry', grant.replace(/^\d+/, 'soon'), TOKEN, NOW],
  ])('refuses %s', (_name, given, token, now) => {
    expect(openEventsGrant(keyring, given, token, now)).toBeUndefined();
  });

  it('refuses a grant made with a key the keyring no longer has', () => {
    expect(openEventsGrant(createKeyring({ current: { kid: 'k2', secret: randomBytes(32).toString('base64url') } }), grant, TOKEN, NOW)).toBeUndefined();
  });
});

describe('event cursor', () => {
  it.each([
    { kind: 'merged' as const, ids: new Map([['billing', 'ev-1'], ['inventory', 'x\ny:"z"']]) },
    { kind: 'request' as const, ids: new Map([['billing', '_GET_stream_1']]) },
    { kind: 'merged' as const, ids: new Map<string, string>() },
  ])('round-trips a $kind cursor, with no character an SSE id line cannot carry', (cursor) => {
    const text = encodeCursor(cursor);
    expect(text).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(decodeCursor(text)).toEqual(cursor);
  });

  it.each([undefined, '', 'ev-1', 'tgx.e30', 'tgm.!!!', `tgm.${Buffer.from('{"a":1}').toString('base64url')}`, `tgm.${Buffer.from('null').toString('base64url')}`])(
    'does not take %s for a cursor',
    (text) => {
      expect(decodeCursor(text)).toBeUndefined();
    },
  );
});
