// The gateway's ids for server-to-client requests: reversible, typed, bound to one session and one backend.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createKeyring } from '../../src/core/session/keys.js';
import type { TokenId } from '../../src/core/session/types.js';
import { openReplyId, replyIdFor, toClientMessage } from '../../src/pipeline/extproc/reply-ids.js';

const key = (kid: string) => ({ kid, secret: randomBytes(32).toString('base64url') });
const K1 = key('k1');
const K2 = key('k2');
const keyring = createKeyring({ current: K1 });
const SESSION = 'session-a' as TokenId;
const OTHER_SESSION = 'session-b' as TokenId;

describe('replyIdFor / openReplyId', () => {
  it.each([
    ['a number', 0],
    ['a large integer', 9007199254740991],
    ['a negative fraction', -1.5],
    ['a string', 'req-7'],
    ['a string that looks like a number', '0'],
    ['a string with colons and quotes', 'a:b:"c"'],
    ['an empty string', ''],
    ['non-ASCII text', 'frage-🙂'],
  ])('round-trips %s with its JSON type', (_name, id) => {
    const issued = replyIdFor(keyring, SESSION, 'billing', id);
    expect(issued.startsWith('billing:')).toBe(true);
    expect(openReplyId(keyring, SESSION, issued)).toEqual({ backend: 'billing', id });
  });

  it('keeps string "0" and number 0 apart', () => {
    expect(replyIdFor(keyring, SESSION, 'billing', 0)).not.toBe(replyIdFor(keyring, SESSION, 'billing', '0'));
  });

  const issued = replyIdFor(keyring, SESSION, 'billing', 3);
  it.each<[string, unknown, TokenId]>([
    ['the bare backend id', 3, SESSION],
    ['a non-string id', { backend: 'billing' }, SESSION],
    ['null', null, SESSION],
    ['no separators', 'billing', SESSION],
    ['another backend', issued.replace(/^billing:/, 'inventory:'), SESSION],
    ['an invalid backend name', issued.replace(/^billing:/, '../billing:'), SESSION],
    ['another original id', issued.replace(/:3$/, ':4'), SESSION],
    ['the same id as a string', issued.replace(/:3$/, ':"3"'), SESSION],
    ['another session', issued, OTHER_SESSION],
    ['a truncated tag', issued.replace(/^(billing:[^:]+)[^:]:/, '$1:'), SESSION],
    ['an empty tag', issued.replace(/^billing:[^:]+:/, 'billing::'), SESSION],
    ['trailing junk after the JSON', `${issued} `, SESSION],
  ])('refuses %s', (_name, presented, session) => {
    expect(openReplyId(keyring, session, presented)).toBeUndefined();
  });

  it('refuses every single-character change of the tag', () => {
    const [backend, tag, json] = issued.split(':') as [string, string, string];
    for (let i = 0; i < tag.length; i++) {
      for (const c of ['A', 'z', '0', '-', '_']) {
        if (tag[i] === c) continue;
        const changed = `${backend}:${tag.slice(0, i)}${c}${tag.slice(i + 1)}:${json}`;
        expect(openReplyId(keyring, SESSION, changed), changed).toBeUndefined();
      }
    }
  });

  it('opens ids issued before a key rotation, and not after the old key is dropped', () => {
    const old = replyIdFor(keyring, SESSION, 'billing', 1);
    expect(openReplyId(createKeyring({ current: K2, previous: [K1] }), SESSION, old)).toEqual({ backend: 'billing', id: 1 });
    expect(openReplyId(createKeyring({ current: K2 }), SESSION, old)).toBeUndefined();
  });
});

describe('toClientMessage', () => {
  const encode = (id: string | number) => `B:${JSON.stringify(id)}`;
  it.each<[string, unknown, unknown]>([
    ['a request with a number id', { jsonrpc: '2.0', id: 0, method: 'sampling/createMessage', params: { maxTokens: 1 } },
      { jsonrpc: '2.0', id: 'B:0', method: 'sampling/createMessage', params: { maxTokens: 1 } }],
    ['a request with a string id', { jsonrpc: '2.0', id: 'x', method: 'roots/list' }, { jsonrpc: '2.0', id: 'B:"x"', method: 'roots/list' }],
    ['a cancellation of a server request', { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 2, reason: 'timeout' } },
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'B:2', reason: 'timeout' } }],
  ])('rewrites %s', (_name, message, expected) => {
    expect(toClientMessage(message, encode)).toEqual(expected);
  });

  it.each<[string, unknown]>([
    ['a response', { jsonrpc: '2.0', id: 0, result: { method: 'x' } }],
    ['an error response', { jsonrpc: '2.0', id: 0, error: { code: 1, message: 'm' } }],
    ['a progress notification', { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } }],
    ['a request with a null id', { jsonrpc: '2.0', id: null, method: 'ping' }],
    ['an array', [{ id: 1, method: 'ping' }]],
    ['a string', 'ping'],
  ])('leaves %s alone', (_name, message) => {
    expect(toClientMessage(message, encode)).toBeUndefined();
  });
});
