// Property (issue 9, "one reading"): for any body and header set, toolgate's reader, admission and classify() never
// throw, and either refuse with a clear 4xx or admit a message the backend reads exactly as toolgate read it.
//
// The backend is modelled as express.json() and the SDK transport read a UTF-8 body: the charset comes from the
// Content-Type as body-parser parses it (its own `content-type` package), Content-Encoding other than identity means
// other bytes, and a UTF-8 body goes through a non-fatal TextDecoder (BOM stripped) and JSON.parse. A third
// property runs the rest of ext_authz (decide, CEL, quota, budget) on the same bodies: admitted means handled.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorize } from '../../src/pipeline/authz/authorize.js';
import { invalidReply } from '../../src/pipeline/authz/http-reply.js';
import { loadConfigFile, type Runtime } from '../../src/app/runtime/load.js';
import { createMemoryStore } from '../../src/ports/store/memory.js';
import { startTestIdp, type TestIdp } from '../harness/jwt.js';
import { FORWARDED_CONTENT_TYPE, readRequest } from '../../src/core/mcp/body.js';
import { readJson } from '../../src/core/mcp/json-reader.js';
import type { McpMessage } from '../../src/core/mcp/message.js';
import { REASONS } from '../../src/core/mcp/reply-table.js';
import { depsOf } from '../harness/deps.js';

const require = createRequire(import.meta.url);
/** The media-type parser body-parser uses to find the charset: the backend's own reading of the header. */
const contentType = require('content-type') as { parse(value: string): { type: string; parameters: Record<string, string> } };

// ── JSON text, adversarial ────────────────────────────────────────────────────────────────────────────────────

const ws = fc.constantFrom('', '', '', '', ' ', '\n', '\t', '\r\n  ');
const hex = (u: number) => u.toString(16).padStart(4, '0');

/** Pieces of a string literal: plain, non-ASCII, every kind of escape, escaped and raw surrogates, bad escapes. */
const stringPart = fc.oneof(
  { weight: 60, arbitrary: fc.string({ maxLength: 6 }).map((s) => JSON.stringify(s).slice(1, -1)) },
  // Past 32 characters the reader scans with a regex instead of by hand: long runs reach that path.
  { weight: 6, arbitrary: fc.constant('x'.repeat(40)) },
  { weight: 8, arbitrary: fc.string({ unit: 'binary', maxLength: 3 }).map((s) => JSON.stringify(s).slice(1, -1)) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((u) => `\\u${hex(u)}`) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((u) => `\\u${hex(u)}`) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((u) => String.fromCharCode(u)) },
  { weight: 1, arbitrary: fc.constantFrom('\\ud83d\\ude00', '😀', '\\"', '\\\\', '\\/', '\\b\\f\\n\\r\\t', '\u2028', '\u0000', '\n', '\\x41', '\\u12', '+ACI-', '\ufeff') },
);
const stringToken = fc.array(stringPart, { maxLength: 4 }).map((parts) => `"${parts.join('')}"`);

const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
const numberToken = fc.oneof(
  { weight: 30, arbitrary: fc.integer({ min: -1000, max: 1000 }).map(String) },
  { weight: 4, arbitrary: fc.maxSafeInteger().map(String) },
  { weight: 2, arbitrary: fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }).map(String) },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom('', '-'), digits(1, 20), fc.option(digits(1, 20)), fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 4))))
      .map(([sign, int, frac, exp]) => `${sign}${int}${frac === null ? '' : `.${frac}`}${exp === null ? '' : exp.join('')}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('1e400', '-1e400', '1e-400', '2e-324', '5e-324', '-0', '0.0', '0e-999', '9007199254740991', '-9007199254740991',
      '9007199254740992', '-9007199254740993', '18446744073709551616', '1.7976931348623157e308', '1.', '.5', '+1', '01', '-', '1e', 'NaN', 'Infinity'),
  },
);

/** Keys that collide often (duplicates, an escaped spelling of "name", "__proto__"), and any string. */
const keyToken = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom('"name"', '"arguments"', '"amount"', '"id"', '"method"', '"params"', '"jsonrpc"', '"__proto__"', '""', '"n\\u0061me"', '"a"') },
  { weight: 6, arbitrary: stringToken },
);

const { value: jsonValue, object: jsonObject } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'xsmall' },
    stringToken,
    numberToken,
    fc.constantFrom('true', 'false', 'null', 'tru', 'nul'),
    tie('array') as fc.Arbitrary<string>,
    tie('object') as fc.Arbitrary<string>,
  ),
  array: fc.tuple(fc.array(tie('value') as fc.Arbitrary<string>, { maxLength: 3 }), ws, fc.nat(30)).map(([items, w, comma]) =>
    `[${w}${items.join(`${w},`)}${comma === 0 && items.length > 0 ? ',' : ''}]`),
  object: fc.tuple(fc.array(fc.tuple(keyToken, tie('value') as fc.Arbitrary<string>), { maxLength: 3 }), ws).map(([entries, w]) =>
    `{${w}${entries.map(([k, v]) => `${k}${w}:${v}`).join(`,${w}`)}}`),
}));

/** Nesting around the 64-level limit (the message, params and arguments add three levels). */
const deepValue = fc.tuple(fc.integer({ min: 55, max: 70 }), fc.boolean(), fc.oneof(numberToken, stringToken, fc.constant('{}'))).map(([n, objects, inner]) =>
  objects ? `${'{"d":'.repeat(n)}${inner}${'}'.repeat(n)}` : `${'['.repeat(n)}${inner}${']'.repeat(n)}`);

const scalar = fc.oneof(stringToken, numberToken, fc.constantFrom('true', 'null', '{}', '[]'));

const methodToken = fc.constantFrom('"tools/call"', '"prompts/get"', '"resources/read"', '"tools/list"', '"initialize"', '"ping"', '"notifications/initialized"', '"completion/complete"', '"x/unknown"', '1');

/** A JSON-RPC message, most of the time well formed, with extra (often duplicate) members. */
const message = (methods: fc.Arbitrary<string>, names: fc.Arbitrary<string>) => fc
  .record({
    id: fc.option(fc.oneof(numberToken, stringToken, fc.constant('null'), jsonObject), { freq: 5 }),
    method: methods,
    name: names,
    args: jsonObject,
    argExtras: fc.array(fc.tuple(fc.constantFrom('"amount"', '"deep"', '"text"'), fc.oneof({ weight: 4, arbitrary: numberToken }, { weight: 1, arbitrary: deepValue }, { weight: 4, arbitrary: stringToken })), { maxLength: 1 }),
    paramExtras: fc.array(fc.tuple(keyToken, scalar), { maxLength: 1 }),
    extras: fc.array(fc.tuple(keyToken, scalar), { maxLength: 1 }),
    reply: fc.nat(5).map((n) => n === 0),
    w: ws,
  })
  .map((r) => {
    const args = r.argExtras.length === 0 ? r.args : `{${[r.args.slice(1, -1), ...r.argExtras.map(([k, v]) => `${k}:${v}`)].filter((s) => s.trim() !== '').join(',')}}`;
    const params = `{"name":${r.name},"arguments":${args}${r.paramExtras.map(([k, v]) => `,${k}:${v}`).join('')}}`;
    const members = ['"jsonrpc":"2.0"', ...(r.id === null ? [] : [`"id":${r.id}`]), ...(r.reply ? ['"result":{}'] : [`"method":${r.method}`, `"params":${params}`])];
    return `${r.w}{${[...members, ...r.extras.map(([k, v]) => `${k}:${v}`)].join(`,${r.w}`)}}${r.w}`;
  });
const messageText = message(methodToken, fc.oneof(stringToken, fc.constantFrom('"echo"', '"refund"', '"billing.refund"', '"delete_everything"')));
/** Calls of the tools a policy guards with conditions, a quota and a budget over the arguments. */
const guardedCallText = message(fc.constant('"tools/call"'), fc.constantFrom('"refund"', '"echo"', '"billing.refund"'));

type Damage = { kind: 'none' } | { kind: 'delete'; at: number; n: number } | { kind: 'insert'; at: number; text: string } | { kind: 'truncate'; at: number };
const damage: fc.Arbitrary<Damage> = fc.oneof(
  { weight: 40, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 2 }), fc.constantFrom(',', '"', '{', ']', '\\', '\ud800')) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
);

function damaged(text: string, d: Damage): string {
  if (d.kind === 'none') return text;
  const at = d.at % (text.length + 1);
  if (d.kind === 'delete') return text.slice(0, at) + text.slice(at + d.n);
  if (d.kind === 'insert') return text.slice(0, at) + d.text + text.slice(at);
  return text.slice(0, at);
}

const bodyText = fc.oneof(
  { weight: 10, arbitrary: fc.tuple(messageText, damage).map(([t, d]) => damaged(t, d)) },
  { weight: 2, arbitrary: jsonValue },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '\n', '[]', '{}', '[{"jsonrpc":"2.0","id":1,"method":"ping"}]') },
);

// ── bytes and headers ─────────────────────────────────────────────────────────────────────────────────────────

type Encoding = { kind: 'utf8' | 'bom' | 'utf16le' | 'latin1' | 'gzip' } | { kind: 'bytes'; at: number; bytes: Uint8Array };
const encoding: fc.Arbitrary<Encoding> = fc.oneof(
  { weight: 40, arbitrary: fc.constant({ kind: 'utf8' as const }) },
  { weight: 1, arbitrary: fc.constantFrom({ kind: 'bom' as const }, { kind: 'utf16le' as const }, { kind: 'latin1' as const }, { kind: 'gzip' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('bytes' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 3 }) }) },
);

function encode(text: string, e: Encoding): Buffer {
  switch (e.kind) {
    case 'utf8': return Buffer.from(text);
    case 'bom': return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
    case 'utf16le': return Buffer.from(text, 'utf16le');
    case 'latin1': return Buffer.from(text, 'latin1');
    case 'gzip': return gzipSync(text);
    case 'bytes': {
      const b = Buffer.from(text);
      const at = e.at % (b.length + 1);
      return Buffer.concat([b.subarray(0, at), e.bytes, b.subarray(at)]);
    }
  }
}

const charsetValue = fc.constantFrom('utf-8', 'UTF-8', 'utf8', '"utf-8"', '"UTF8"', '"utf\\-8"', 'utf-7', 'UTF-7', '"utf-7"', 'utf-16', 'utf-16le',
  'UTF-16BE', 'utf-32', 'latin1', 'iso-8859-1', 'us-ascii', 'unicode-1-1-utf-8', '', '""', '"utf-8', 'utf-8"');
const parameter = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom('charset', 'Charset', 'CHARSET'), fc.oneof({ weight: 3, arbitrary: fc.constantFrom('utf-8', 'UTF-8', 'utf8', '"utf-8"') }, { weight: 1, arbitrary: charsetValue })).map(([n, v]) => `${n}=${v}`) },
  { weight: 1, arbitrary: fc.constantFrom('profile=mcp', 'q=1', 'x="a;b"', 'x="charset=utf-7"', 'boundary=z', '', 'charset', '=utf-8', 'a b=c') },
);
const mediaType = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom('application/json', 'Application/JSON', 'APPLICATION/JSON') },
  { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/json-seq', 'application/vnd.api+json', 'text/json', 'application/*', '*/*', 'application/json, text/plain', '', 'application', 'application/ json', 'application/json/x') },
);
const contentTypeHeader = fc
  .tuple(mediaType, fc.array(fc.tuple(fc.constantFrom(';', '; ', ' ;', ';\t'), parameter), { maxLength: 2 }), fc.constantFrom('', ' '))
  .map(([type, params, tail]) => `${type}${params.map(([sep, p]) => sep + p).join('')}${tail}`);

/** `arb` once in `odds` draws, null otherwise (fc.option's `freq` is the odds of null). */
const rarely = <T>(arb: fc.Arbitrary<T>, odds: number) => fc.oneof({ weight: odds - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });

const headerSet = fc
  .record({
    type: fc.option(contentTypeHeader, { freq: 30 }),
    encoding: rarely(fc.constantFrom('gzip', 'deflate', 'br', 'identity', '', 'GZIP', 'x-unknown'), 30),
    v2026: rarely(fc.record({ method: fc.constantFrom('tools/call', 'tools/list', 'ping'), name: fc.constantFrom('echo', 'refund', 'billing.refund', '') }), 5),
  })
  .map((h) => {
    const headers: Record<string, string> = {};
    if (h.type !== null) headers['content-type'] = h.type;
    if (h.encoding !== null) headers['content-encoding'] = h.encoding;
    if (h.v2026 !== null) Object.assign(headers, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': h.v2026.method, 'mcp-name': h.v2026.name });
    return headers;
  });

// ── the backend's reading ─────────────────────────────────────────────────────────────────────────────────────

/** Non-fatal and BOM-stripping, as the SDK transport's and iconv-lite's UTF-8 decoders are. */
const LENIENT_UTF8 = new TextDecoder('utf-8');

type BackendReading = { readonly kind: 'json'; readonly value: unknown } | { readonly kind: 'no-message' } | { readonly kind: 'other'; readonly why: string };

function backendReads(headers: Readonly<Record<string, string>>, body: Uint8Array): BackendReading {
  const enc = headers['content-encoding'];
  if (enc !== undefined && enc.toLowerCase() !== 'identity') return { kind: 'other', why: `inflates ${enc}` };
  let charset = 'utf-8';
  const type = headers['content-type'];
  if (type !== undefined) {
    try {
      charset = (contentType.parse(type).parameters.charset ?? 'utf-8').toLowerCase();
    } catch {
      // body-parser skips a Content-Type it cannot parse; the SDK transport then reads the body as UTF-8.
    }
  }
  if (charset !== 'utf-8' && charset !== 'utf8') return { kind: 'other', why: `decodes ${charset}` };
  const text = LENIENT_UTF8.decode(body);
  try {
    return { kind: 'json', value: JSON.parse(text) as unknown };
  } catch {
    return { kind: 'no-message' };
  }
}

/**
 * Where JSON readers other than JSON.parse could read an admitted text differently, judged independently of
 * toolgate's reader: a key dropped as a duplicate (first-wins and last-wins readers differ), a lone surrogate, a
 * number beyond ±(2^53−1), nesting beyond 64.
 */
function readersCouldDisagree(text: string, value: unknown): string | undefined {
  // Members written in the text: colons outside strings.
  let written = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === ':') written++;
  }
  let kept = 0;
  let problem: string | undefined;
  /** `level` counts the objects and arrays around v, v included when it is one. */
  const walk = (v: unknown, level: number): void => {
    if (typeof v === 'object' && v !== null && level + 1 > 64) problem = 'deeper than 64';
    if (typeof v === 'string' && /[\uD800-\uDFFF]/u.test(v)) problem = 'a lone surrogate';
    if (typeof v === 'number' && !(Math.abs(v) <= Number.MAX_SAFE_INTEGER)) problem = `the number ${v}`;
    if (Array.isArray(v)) v.forEach((x) => walk(x, level + 1));
    else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        kept++;
        if (/[\uD800-\uDFFF]/u.test(k)) problem = 'a lone surrogate in a key';
        walk(x, level + 1);
      }
    }
  };
  walk(value, 0);
  if (kept !== written) problem = `${written - kept} duplicate key(s)`;
  return problem;
}

/** A refusal is a clear 4xx with a JSON-RPC error sentence; an admission reads exactly what the backend reads. */
function holds(message: McpMessage, headers: Readonly<Record<string, string>>, body: Uint8Array): void {
  if (message.type === 'invalid') {
    const status = REASONS[message.reason].http;
    if (status < 400 || status > 499) throw new Error(`refusal ${message.reason} has status ${status}`);
    const reply = JSON.parse(invalidReply(message).body) as { error: { message: string; code: number } };
    if (reply.error.message !== message.message || message.message.length < 20 || !Number.isInteger(reply.error.code)) {
      throw new Error(`unclear refusal: ${JSON.stringify(message)}`);
    }
    return;
  }
  if (message.type === 'bodyless') throw new Error('a POST read as bodyless');
  // Both as sent and as forwarded (toolgate overwrites the Content-Type with the canonical one).
  for (const h of [headers, { ...headers, 'content-type': FORWARDED_CONTENT_TYPE }]) {
    const backend = backendReads(h, body);
    if (message.type === 'call' && message.fromHeadersOnly) {
      // No body to read: the backend finds no message in it either, so it can execute nothing else.
      if (backend.kind === 'json') throw new Error(`headers-only call, but the backend reads ${JSON.stringify(backend.value)}`);
      continue;
    }
    if (backend.kind !== 'json') throw new Error(`admitted, but the backend ${backend.kind === 'other' ? backend.why : 'finds no message'}`);
    const v = backend.value as Record<string, unknown>;
    if (message.type === 'call') {
      if (!isDeepStrictEqual(message.json, backend.value)) throw new Error(`toolgate read ${JSON.stringify(message.json)}, the backend ${JSON.stringify(backend.value)}`);
      if (v.method !== message.method) throw new Error('method differs');
      const disagreement = readersCouldDisagree(LENIENT_UTF8.decode(body), backend.value);
      if (disagreement) throw new Error(`admitted, but other JSON readers could read it differently: ${disagreement}`);
    } else {
      const id = typeof v.id === 'string' || typeof v.id === 'number' ? v.id : null;
      if (!Object.is(id, message.id)) throw new Error(`reply id ${String(message.id)} vs ${String(id)}`);
    }
  }
}

// ── properties ────────────────────────────────────────────────────────────────────────────────────────────────

/** A few seconds of CPU on an idle machine; generous, so a busy CI runner does not turn it into a timeout. */
const LOADED_MACHINE_TIMEOUT = 180_000;

describe('one reading of the body (property-based)', () => {
  it('refuses with a clear 4xx, or admits what the backend reads the same: 100,000 bodies and header sets', () => {
    const seen = { refused: 0, admitted: 0 };
    fc.assert(
      fc.property(bodyText, encoding, headerSet, (text, enc, headers) => {
        const body = encode(text, enc);
        const message = readRequest({ method: 'POST', headers, body });
        holds(message, headers, body);
        seen[message.type === 'invalid' ? 'refused' : 'admitted']++;
      }),
      { numRuns: 100_000 },
    );
    // The generators reach both outcomes in earnest, or the property says little.
    expect(seen.admitted).toBeGreaterThan(10_000);
    expect(seen.refused).toBeGreaterThan(10_000);
  }, LOADED_MACHINE_TIMEOUT);

  it('reads every text JSON.parse reads the same, and nothing JSON.parse refuses: 20,000 texts', () => {
    fc.assert(
      fc.property(bodyText, (text) => {
        const reading = readJson(text);
        let parsed: unknown;
        let parses = true;
        try {
          parsed = JSON.parse(text);
        } catch {
          parses = false;
        }
        if (reading.ok) {
          if (!parses || !isDeepStrictEqual(reading.value, parsed)) throw new Error(`read ${JSON.stringify(text)} unlike JSON.parse`);
        } else if (reading.reason === 'malformed-json' && parses) {
          throw new Error(`called ${JSON.stringify(text)} malformed, but JSON.parse reads it`);
        }
      }),
      { numRuns: 20_000 },
    );
  }, LOADED_MACHINE_TIMEOUT);

  describe('admitted means handled: the rest of ext_authz never throws on what admission let through', () => {
    let idp: TestIdp;
    let runtime: Runtime;
    let token: string;
    beforeAll(async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'toolgate-property-'));
      idp = await startTestIdp({ serve: false, issuer: 'https://auth.test', audience: 'https://mcp.test/mcp' });
      const jwksFile = await idp.writeJwksFile(path.join(dir, 'jwks.json'));
      // Conditions, a quota and a budget over the arguments: every later stage that reads the body.
      writeFileSync(path.join(dir, 'c.yaml'), `resource: https://mcp.test/mcp
identity:
  jwt: { issuer: https://auth.test, jwksFile: ${jwksFile} }
tasks:
  t:
    tools:
      - tool: echo
        when: size(string(mcp.arguments)) < 10000
      - tool: refund
        when: mcp.arguments.amount <= jwt.refund_limit
        quota: { calls: 1000000000, per: 1h, key: jwt.sub }
        budget: { sum: mcp.arguments.amount, max: 1000000000000, per: 1h, key: jwt.sub }
      - tool: "billing.*"
    prompts: ["*"]
    resources: ["file:///public/*"]
`);
      runtime = loadConfigFile(path.join(dir, 'c.yaml'));
      token = await idp.mint({ authorized_tasks: ['t'], refund_limit: 100 });
    });
    afterAll(async () => { await idp?.stop(); });

    it('authorize() answers every admitted or refused body with an allow or a reply below 500: 5,000 bodies', async () => {
      const deps = depsOf(createMemoryStore());
      const reasons: Record<string, number> = {};
      await fc.assert(
        fc.asyncProperty(fc.oneof(bodyText, guardedCallText), headerSet, async (text, headers) => {
          const input = { method: 'POST', path: '/mcp', headers: { ...headers, authorization: `Bearer ${token}` }, body: Buffer.from(text) };
          const outcome = await authorize(runtime, input, deps);
          const reason = outcome.audit?.reason ?? 'none';
          reasons[reason] = (reasons[reason] ?? 0) + 1;
          if (outcome.kind === 'reply') {
            if (outcome.reply.status >= 500) throw new Error(`${outcome.reply.status}: ${outcome.reply.body}`);
            JSON.parse(outcome.reply.body);
          }
        }),
        { numRuns: 5_000 },
      );
      // The later stages are reached in earnest: calls allowed, and conditions evaluated over the arguments.
      expect(reasons.allowed ?? 0).toBeGreaterThan(100);
      expect((reasons['condition-failed'] ?? 0) + (reasons['expression-error'] ?? 0)).toBeGreaterThan(100);
    }, LOADED_MACHINE_TIMEOUT);
  });
});
