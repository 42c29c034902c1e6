import { describe, expect, it } from 'vitest';
import { canonicalName, readName, readUri, readUriTemplate, targetOf } from '../../src/core/mcp/canonical.js';

describe('readUri: a URI is accepted only when its text is what new URL(text).href gives', () => {
  it.each([
    ['a plain file URI', 'file:///public/readme.md'],
    ['a non-special scheme with a host', 'docs://readme'],
    ['a non-special path', 'cities://fr/lyon'],
    ['an opaque path, which WHATWG does not resolve', 'custom:a/../b'],
    ['an upper-case non-special host (WHATWG keeps its case)', 'docs://UPPER/x'],
    ['a query and a fragment', 'https://example.com/a?b=%2F#c'],
    ['a percent-encoded byte that is not a separator', 'file:///public/caf%C3%A9'],
    ['a segment that only starts with dots', 'file:///public/..x'],
    ['an encoded dot inside a segment', 'file:///public/a%2eb'],
  ])('accepts %s', (_name, raw) => {
    expect(new URL(raw).href).toBe(raw);
    expect(readUri(raw)).toEqual({ ok: true });
  });

  it.each([
    ['dot-dot segments', 'file:///public/../secret/keys', 'file:///secret/keys', 'dot segments'],
    ['a single dot segment', 'file:///public/./a', 'file:///public/a', 'dot segments'],
    ['lower-case encoded dots', 'file:///public/%2e%2e/secret/keys', 'file:///secret/keys', 'dot segments'],
    ['upper-case encoded dots', 'file:///public/%2E%2E/secret/keys', 'file:///secret/keys', 'dot segments'],
    ['a mixed encoded dot pair', 'file:///public/.%2E/secret/keys', 'file:///secret/keys', 'dot segments'],
    ['backslashes in a special scheme', 'file:///public\\..\\secret\\keys', 'file:///secret/keys', 'backslash'],
    ['a tab inside', 'file:///pub\tlic/../secret', 'file:///secret', 'tab and line-break'],
    ['a newline before dots', 'file:///public/\n../secret', 'file:///secret', 'tab and line-break'],
    ['a carriage return inside the scheme', 'fi\rle:///public/a', 'file:///public/a', 'tab and line-break'],
    ['an upper-case scheme', 'FILE:///public/a', 'file:///public/a', 'scheme is lower-cased'],
    ['an upper-case special host', 'https://EXAMPLE.com/a', 'https://example.com/a', 'host is lower-cased'],
    ['a leading space', ' file:///public/a', 'file:///public/a', 'leading and trailing'],
    ['a trailing control character', 'file:///public/a\u0001', 'file:///public/a', 'leading and trailing'],
    ['dot segments under a non-special host', 'docs://x/a/../b', 'docs://x/b', 'dot segments'],
    ['a default port', 'https://example.com:443/a', 'https://example.com/a', 'WHATWG URL rules rewrite'],
    ['an empty special path', 'https://example.com', 'https://example.com/', 'WHATWG URL rules rewrite'],
    ['a raw non-ASCII character', 'file:///public/caf\u00e9', 'file:///public/caf%C3%A9', 'WHATWG URL rules rewrite'],
    ['a localhost file host', 'file://localhost/secret', 'file:///secret', 'WHATWG URL rules rewrite'],
  ])('refuses %s and names the form the server reads', (_name, raw, canonical, why) => {
    expect(new URL(raw).href).toBe(canonical);
    const reading = readUri(raw);
    expect(reading).toMatchObject({ ok: false, invalid: false, canonical });
    expect(reading.ok ? '' : reading.why).toContain(why);
  });

  it.each([
    ['a relative reference', 'public/readme'],
    ['an empty string', ''],
    ['a backslash in a non-special host', 'docs://x\\y'],
    ['an invalid port', 'https://example.com:99999/'],
    ['an encoded slash in the path', 'file:///public/..%2Fsecret/keys'],
    ['an encoded backslash in the path', 'file:///public/..%5csecret'],
  ])('refuses %s as unreadable, with no form to offer', (_name, raw) => {
    expect(readUri(raw)).toMatchObject({ ok: false, invalid: true, canonical: undefined });
  });
});

describe('readUriTemplate: expressions are opaque, the rest must be a canonical URI', () => {
  it.each([
    ['a non-special template', 'cities://{country}/{city}'],
    ['a reserved expansion', 'file:///public/{+path}'],
    ['a query expansion', 'docs://x/search{?q,lang}'],
    ['an expression as the host', 'https://{host}/a'],
    ['an expression as the port', 'https://example.com:{port}/a'],
    ['no expression at all', 'docs://readme'],
  ])('accepts %s', (_name, raw) => {
    expect(readUriTemplate(raw)).toEqual({ ok: true });
  });

  it.each([
    ['dot segments before an expression', 'file:///public/../secret/{name}', 'file:///secret/{name}'],
    ['encoded dots before an expression', 'cities://x/%2e%2e/{city}', 'cities://x/{city}'],
    ['an upper-case scheme', 'CITIES://{country}/{city}', 'cities://{country}/{city}'],
    ['a tab inside', 'cities://{country}/\t{city}', 'cities://{country}/{city}'],
  ])('refuses %s and puts the expressions back in the form it shows', (_name, raw, canonical) => {
    expect(readUriTemplate(raw)).toMatchObject({ ok: false, invalid: false, canonical });
  });

  it('refuses an unbalanced brace (the parser would percent-encode it)', () => {
    expect(readUriTemplate('file:///public/{name')).toMatchObject({ ok: false });
  });

  it('offers no form when an expression was swallowed by a dot segment', () => {
    expect(readUriTemplate('file:///public/{a}/../b')).toMatchObject({ ok: false, invalid: false, canonical: undefined });
  });
});

describe('readName: NFC, nothing invisible, no white space at either end', () => {
  it.each([
    ['a plain tool name', 'billing.refund'],
    ['a name with inner spaces', 'plan my trip'],
    ['an NFC accented name', 'caf\u00e9'],
    ['a non-Latin name', '\u65c5\u884c'],
    ['an empty name (no pattern lists it)', ''],
  ])('accepts %s', (_name, raw) => {
    expect(readName(raw)).toEqual({ ok: true });
  });

  it.each([
    ['a trailing space', 'greeting ', 'greeting', 'ends with white space'],
    ['a leading tab', '\tgreeting', 'greeting', 'invisible character U+0009'],
    ['a trailing no-break space', 'greeting\u00a0', 'greeting', 'ends with white space'],
    ['the NFD form', 'cafe\u0301', 'caf\u00e9', 'NFC'],
    ['a zero-width space', 'bill\u200bing.refund', 'billing.refund', 'U+200B'],
    ['a right-to-left override', 'refund\u202e', 'refund', 'U+202E'],
    ['a byte-order mark', '\ufeffrefund', 'refund', 'U+FEFF'],
    ['a newline inside', 'bill\ning', 'billing', 'U+000A'],
    ['a DEL character', 'refund\u007f', 'refund', 'U+007F'],
    ['a C1 control', 'refund\u0085', 'refund', 'U+0085'],
    ['a line separator', 'refund\u2028x', 'refundx', 'U+2028'],
  ])('refuses %s and offers the canonical name', (_name, raw, canonical, why) => {
    expect(canonicalName(raw)).toBe(canonical);
    const reading = readName(raw);
    expect(reading).toMatchObject({ ok: false, invalid: false, canonical });
    expect(reading.ok ? '' : reading.why).toContain(why);
  });

  it('refuses a lone surrogate with no form to offer', () => {
    expect(readName('refund\ud800')).toMatchObject({ ok: false, invalid: true, canonical: undefined });
  });
});

describe('targetOf reads the target the server looks up', () => {
  const src = (method: string, target: string | undefined, params: Record<string, unknown> = {}) => ({ method, target, params });
  it.each([
    ['a tool call', src('tools/call', 'a'), { kind: 'tool', text: 'a' }],
    ['a prompt get', src('prompts/get', 'p'), { kind: 'prompt', text: 'p' }],
    ['a read', src('resources/read', 'docs://a'), { kind: 'resource', text: 'docs://a' }],
    ['a subscribe', src('resources/subscribe', 'docs://a'), { kind: 'resource', text: 'docs://a' }],
    ['an unsubscribe', src('resources/unsubscribe', 'docs://a'), { kind: 'resource', text: 'docs://a' }],
    ['a prompt completion', src('completion/complete', 'p', { ref: { type: 'ref/prompt', name: 'p' } }), { kind: 'prompt', text: 'p' }],
    ['a resource completion, by uri even when a name is also sent', src('completion/complete', 'x', { ref: { type: 'ref/resource', name: 'x', uri: 'docs://{a}' } }), { kind: 'resource-template', text: 'docs://{a}' }],
    ['a completion of an unknown reference type', src('completion/complete', 'x', { ref: { type: 'ref/other', name: 'x' } }), undefined],
    ['a method without a target', src('tools/list', undefined), undefined],
    ['a tool call without a name', src('tools/call', undefined), undefined],
  ] as const)('%s', (_name, call, expected) => {
    expect(targetOf(call)).toEqual(expected);
  });
});
