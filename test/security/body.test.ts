// Issue 9, class 1 (one reading of the body): every body toolgate and the backend could read as two different
// messages is refused with a 4xx and a JSON-RPC sentence, never forwarded; what is forwarded carries a canonical
// Content-Type. Through the real Envoy, sidecar and gateway, an express.json() backend and a node:http one.
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { printLogsOnFailure } from '../harness/logs.js';
import { MATRIX, PROTOCOL, rpc, type RawReply, type SecurityStack, useSecurityStack } from './harness.js';

printLogsOnFailure();

type Names = (name: string) => string;

interface Refused {
  readonly name: string;
  /** The body, given the names clients use in this mode. */
  readonly body: (tool: Names) => string | Uint8Array;
  /** Headers over the harness's defaults; `null` removes the Content-Type. */
  readonly headers?: Record<string, string> | null;
  readonly status: number;
  /** The reason code the audit record shows. */
  readonly reason: string;
  /** The sentence the client reads. */
  readonly says: RegExp;
}

const call = (tool: Names, name: string, args: Record<string, unknown> = {}) => rpc('tools/call', { name: tool(name), arguments: args }, 7);
/** A raw tools/call whose params are written by hand (duplicate keys, escapes, numbers JSON.stringify cannot write). */
const rawCall = (params: string) => `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":${params}}`;

/**
 * UTF-7 smuggling: read as UTF-8 (toolgate on main) `note` is a string and `name` is the allowed tool; decoded as
 * UTF-7 (express.json honours the charset) each `+ACI-` is a quote, so a second `name` (or `amount`) appears and
 * JSON.parse keeps it.
 */
const utf7Name = (tool: Names) => rawCall(`{"arguments":{},"name":"${tool('lookup_charge')}","note":"+ACI-,+ACI-name+ACI-:+ACI-delete_everything+ACI-,+ACI-x+ACI-:+ACI-"}`);
const utf7Amount = (tool: Names) => rawCall(`{"name":"${tool('refund')}","arguments":{"amount":50,"note":"+ACI-,+ACI-amount+ACI-:5000,+ACI-x+ACI-:+ACI-"}}`);

/** `levels` nested objects and arrays in all, counting the message itself, params and arguments. */
const nested = (tool: Names, levels: number) =>
  rawCall(`{"name":"${tool('lookup_charge')}","arguments":{"id":"ch_1","deep":${'['.repeat(levels - 3)}${']'.repeat(levels - 3)}}}`);

const withBytes = (text: string, at: 'start' | 'in-string', bytes: number[]) => {
  const b = Buffer.from(text);
  if (at === 'start') return Buffer.concat([Buffer.from(bytes), b]);
  const i = b.indexOf('ch_') + 3;
  return Buffer.concat([b.subarray(0, i), Buffer.from(bytes), b.subarray(i)]);
};

const REFUSED: readonly Refused[] = [
  // A charset other than UTF-8: the backend decodes another text than toolgate reads.
  { name: 'utf-7 smuggling a forbidden tool name', body: utf7Name, headers: { 'content-type': 'application/json; charset=utf-7' }, status: 415, reason: 'unsupported-charset', says: /charset "utf-7"/ },
  { name: 'utf-7 (upper case, quoted) smuggling a forbidden tool name', body: utf7Name, headers: { 'content-type': 'application/json; Charset="UTF-7"' }, status: 415, reason: 'unsupported-charset', says: /charset "utf-7"/ },
  { name: 'utf-7 smuggling a refund above the CEL limit', body: utf7Amount, headers: { 'content-type': 'application/json;charset=utf-7' }, status: 415, reason: 'unsupported-charset', says: /charset "utf-7"/ },
  { name: 'utf-16le bytes', body: (t) => Buffer.from(call(t, 'lookup_charge', { id: 'ch_1' }), 'utf16le'), headers: { 'content-type': 'application/json; charset=utf-16le' }, status: 415, reason: 'unsupported-charset', says: /charset "utf-16le"/ },
  { name: 'ASCII JSON declared utf-16', body: (t) => call(t, 'lookup_charge', { id: 'ch_1' }), headers: { 'content-type': 'application/json; charset=UTF-16' }, status: 415, reason: 'unsupported-charset', says: /charset "utf-16"/ },
  { name: 'latin1', body: (t) => call(t, 'lookup_charge', { id: 'ch_1' }), headers: { 'content-type': 'application/json; charset=iso-8859-1' }, status: 415, reason: 'unsupported-charset', says: /charset "iso-8859-1"/ },
  // Any Content-Encoding: the backend inflates what toolgate reads as bytes.
  { name: 'gzip Content-Encoding', body: (t) => gzipSync(call(t, 'delete_everything')), headers: { 'content-encoding': 'gzip' }, status: 415, reason: 'content-encoding', says: /Content-Encoding "gzip"/ },
  { name: 'deflate Content-Encoding', body: (t) => deflateSync(call(t, 'delete_everything')), headers: { 'content-encoding': 'deflate' }, status: 415, reason: 'content-encoding', says: /Content-Encoding "deflate"/ },
  { name: 'br Content-Encoding', body: (t) => brotliCompressSync(call(t, 'delete_everything')), headers: { 'content-encoding': 'br' }, status: 415, reason: 'content-encoding', says: /Content-Encoding "br"/ },
  { name: 'identity Content-Encoding on plain JSON', body: (t) => call(t, 'lookup_charge', { id: 'ch_1' }), headers: { 'content-encoding': 'identity' }, status: 415, reason: 'content-encoding', says: /Content-Encoding "identity"/ },
  // A byte order mark: JSON.parse refuses it, express and the SDK strip it.
  { name: 'a UTF-8 BOM', body: (t) => withBytes(call(t, 'lookup_charge', { id: 'ch_1' }), 'start', [0xef, 0xbb, 0xbf]), status: 415, reason: 'body-bom', says: /byte order mark/ },
  { name: 'a UTF-8 BOM with charset=utf-8', body: (t) => withBytes(call(t, 'lookup_charge', { id: 'ch_1' }), 'start', [0xef, 0xbb, 0xbf]), headers: { 'content-type': 'application/json; charset=utf-8' }, status: 415, reason: 'body-bom', says: /byte order mark/ },
  // Invalid UTF-8: lenient decoders replace it, each in its own way.
  { name: 'a stray 0xff byte', body: (t) => withBytes(call(t, 'lookup_charge', { id: 'ch_1' }), 'in-string', [0xff]), status: 415, reason: 'invalid-utf8', says: /not valid UTF-8/ },
  { name: 'an overlong quote (C0 A2)', body: (t) => withBytes(call(t, 'lookup_charge', { id: 'ch_1' }), 'in-string', [0xc0, 0xa2]), status: 415, reason: 'invalid-utf8', says: /not valid UTF-8/ },
  { name: 'a UTF-8-encoded surrogate (ED A0 80)', body: (t) => withBytes(call(t, 'lookup_charge', { id: 'ch_1' }), 'in-string', [0xed, 0xa0, 0x80]), status: 415, reason: 'invalid-utf8', says: /not valid UTF-8/ },
  { name: 'a truncated sequence', body: (t) => withBytes(call(t, 'lookup_charge', { id: 'ch_1' }), 'in-string', [0xe2, 0x82]), status: 415, reason: 'invalid-utf8', says: /not valid UTF-8/ },
  // A media type other than application/json.
  { name: 'text/plain', body: (t) => call(t, 'lookup_charge', { id: 'ch_1' }), headers: { 'content-type': 'text/plain' }, status: 415, reason: 'unsupported-media-type', says: /Content-Type "text\/plain"/ },
  { name: 'a form', body: (t) => call(t, 'lookup_charge', { id: 'ch_1' }), headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, reason: 'unsupported-media-type', says: /must be sent as Content-Type: application\/json/ },
  { name: 'application/json-patch+json', body: (t) => call(t, 'lookup_charge', { id: 'ch_1' }), headers: { 'content-type': 'application/json-patch+json' }, status: 415, reason: 'unsupported-media-type', says: /must be sent as Content-Type: application\/json/ },
  { name: 'two Content-Type values', body: (t) => call(t, 'lookup_charge', { id: 'ch_1' }), headers: { 'content-type': 'application/json, text/plain' }, status: 415, reason: 'unsupported-media-type', says: /must be sent as Content-Type: application\/json/ },
  { name: 'no Content-Type', body: (t) => Buffer.from(call(t, 'lookup_charge', { id: 'ch_1' })), headers: null, status: 415, reason: 'unsupported-media-type', says: /no Content-Type/ },
  // Duplicate keys, at any depth: JSON.parse keeps the last copy, other readers the first.
  { name: 'a duplicate name (forbidden first)', body: (t) => rawCall(`{"name":"${t('delete_everything')}","arguments":{},"name":"${t('lookup_charge')}"}`), status: 400, reason: 'duplicate-key', says: /repeats the key "name"/ },
  { name: 'a duplicate name (forbidden last)', body: (t) => rawCall(`{"name":"${t('lookup_charge')}","arguments":{},"name":"${t('delete_everything')}"}`), status: 400, reason: 'duplicate-key', says: /repeats the key "name"/ },
  { name: 'a duplicate amount inside arguments', body: (t) => rawCall(`{"name":"${t('refund')}","arguments":{"amount":5000,"amount":50}}`), status: 400, reason: 'duplicate-key', says: /repeats the key "amount"/ },
  { name: 'a duplicate key spelled with an escape', body: (t) => rawCall(`{"name":"${t('refund')}","arguments":{"amount":5000,"\\u0061mount":50}}`), status: 400, reason: 'duplicate-key', says: /repeats the key "amount"/ },
  { name: 'a duplicate params', body: (t) => `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"${t('delete_everything')}"},"params":{"name":"${t('lookup_charge')}"}}`, status: 400, reason: 'duplicate-key', says: /repeats the key "params"/ },
  // Lone surrogates.
  { name: 'a lone high surrogate in an argument', body: (t) => rawCall(`{"name":"${t('echo')}","arguments":{"text":"a\\ud800b"}}`), status: 400, reason: 'lone-surrogate', says: /unpaired UTF-16 surrogate \(\\ud800\)/ },
  { name: 'a lone low surrogate in the tool name', body: (t) => rawCall(`{"name":"${t('lookup_charge')}\\udc00","arguments":{}}`), status: 400, reason: 'lone-surrogate', says: /unpaired UTF-16 surrogate \(\\udc00\)/ },
  { name: 'a reversed surrogate pair in a key', body: (t) => rawCall(`{"name":"${t('echo')}","arguments":{"\\udc00\\ud800":"x"}}`), status: 400, reason: 'lone-surrogate', says: /unpaired UTF-16 surrogate/ },
  // Numbers readers read differently.
  { name: 'amount 2^64', body: (t) => rawCall(`{"name":"${t('refund')}","arguments":{"amount":18446744073709551616}}`), status: 400, reason: 'unsafe-number', says: /number 18446744073709551616, outside ±9007199254740991/ },
  { name: 'amount -2^64', body: (t) => rawCall(`{"name":"${t('refund')}","arguments":{"amount":-18446744073709551616}}`), status: 400, reason: 'unsafe-number', says: /number -18446744073709551616/ },
  { name: 'amount 1e400', body: (t) => rawCall(`{"name":"${t('refund')}","arguments":{"amount":1e400}}`), status: 400, reason: 'unsafe-number', says: /number 1e400/ },
  { name: 'amount -1e400', body: (t) => rawCall(`{"name":"${t('refund')}","arguments":{"amount":-1e400}}`), status: 400, reason: 'unsafe-number', says: /number -1e400/ },
  { name: 'amount 2^53', body: (t) => rawCall(`{"name":"${t('refund')}","arguments":{"amount":9007199254740992}}`), status: 400, reason: 'unsafe-number', says: /number 9007199254740992/ },
  { name: 'amount 1e-400', body: (t) => rawCall(`{"name":"${t('refund')}","arguments":{"amount":1e-400}}`), status: 400, reason: 'unsafe-number', says: /too small to read as anything but 0/ },
  // Nesting deeper than every later stage reads.
  { name: '65-deep nesting', body: (t) => nested(t, 65), status: 400, reason: 'too-deep', says: /more than 64 levels deep/ },
  { name: '1000-deep nesting', body: (t) => nested(t, 1000), status: 400, reason: 'too-deep', says: /more than 64 levels deep/ },
];

interface Forwarded {
  readonly name: string;
  readonly contentType: string;
}

/** Spellings of application/json in UTF-8 that are read once and forwarded as the canonical Content-Type. */
const FORWARDED: readonly Forwarded[] = [
  { name: 'charset=utf-8', contentType: 'application/json; charset=utf-8' },
  { name: 'upper case, quoted UTF-8', contentType: 'Application/JSON; Charset="UTF-8"' },
  { name: 'charset=utf8 and another parameter', contentType: 'application/json;charset=utf8; profile=mcp' },
];

describe.each(MATRIX)('one reading of the body: $mode mode, $backend backend', ({ mode, backend }) => {
  let s: SecurityStack;
  let session: string;
  useSecurityStack({ mode, backend }, (stack, id) => {
    s = stack;
    session = id;
  });

  /** The harness's POST, or one with no Content-Type at all (the harness always sends one). */
  const send = async (body: string | Uint8Array, headers: Record<string, string> | null | undefined): Promise<RawReply> => {
    if (headers !== null) return s.post(body, { session, headers: headers ?? {} });
    const res = await fetch(s.endpoint, {
      method: 'POST',
      headers: { accept: 'application/json, text/event-stream', 'mcp-protocol-version': PROTOCOL, authorization: `Bearer ${await s.token()}`, 'mcp-session-id': session },
      body,
    });
    const text = await res.text();
    let messages: unknown[] = [];
    try {
      messages = [JSON.parse(text) as unknown];
    } catch {
      // not JSON: the assertions below say so
    }
    return { status: res.status, headers: res.headers, text, messages };
  };

  it.each(REFUSED)('refuses $name: status, sentence and audit reason, never forwarded', async (c) => {
    s.journal.clear();
    const audited = s.toolgate.decisions().length;
    const r = await send(c.body(s.tool), c.headers);
    // On failure, say what the backend did with it.
    const seen = `${r.text} | backend executed ${JSON.stringify(s.journal.executions)}, received ${s.journal.requests.length} request(s)`;
    expect(r.status, seen).toBe(c.status);
    expect(r.messages).toEqual([{ jsonrpc: '2.0', id: null, error: { code: expect.any(Number), message: expect.stringMatching(c.says), data: { code: c.reason } } }]);
    expect(s.journal.executions).toEqual([]);
    expect(s.journal.requests).toEqual([]);
    await vi.waitFor(() => expect(s.toolgate.decisions().length).toBeGreaterThan(audited));
    expect(s.toolgate.decisions()[audited]).toMatchObject({ decision: 'deny', reason: c.reason });
  });

  it.each(FORWARDED)('forwards $name as content-type: application/json', async (c) => {
    s.journal.clear();
    const r = await send(call(s.tool, 'lookup_charge', { id: 'ch_ct' }), { 'content-type': c.contentType });
    expect(r.status, r.text).toBe(200);
    expect(s.journal.tools().map((e) => e.args)).toEqual([{ id: 'ch_ct' }]);
    expect(s.journal.requests.length).toBeGreaterThan(0);
    expect(new Set(s.journal.requests.map((q) => q.headers['content-type']))).toEqual(new Set(['application/json']));
  });

  it('reads 64 levels of nesting and forwards them', async () => {
    s.journal.clear();
    const r = await send(nested(s.tool, 64), {});
    expect(r.status, r.text).toBe(200);
    expect(s.journal.tools().map((e) => e.name)).toEqual(['lookup_charge']);
  });

  it('still refuses a refund above the CEL limit written plainly (control for the utf-7 case)', async () => {
    s.journal.clear();
    const r = await send(call(s.tool, 'refund', { amount: 5000 }), {});
    expect(r.status).toBe(200);
    expect(r.messages).toMatchObject([{ result: { isError: true } }]);
    expect(s.journal.tools()).toEqual([]);
  });
});
