import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, readJson, type JsonRefusalReason } from '../../src/core/mcp/json-reader.js';

const accepted = (text: string): unknown => {
  const r = readJson(text);
  if (!r.ok) throw new Error(`refused ${JSON.stringify(text)}: ${r.message}`);
  return r.value;
};

/** `levels` nested arrays, innermost empty. */
const arrays = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
/** `levels` nested objects, innermost empty. */
const objects = (levels: number) => '{"a":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);

describe('readJson: what it accepts reads exactly as JSON.parse', () => {
  it.each([
    ['an MCP tools/call', '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"refund","arguments":{"amount":50}}}'],
    ['scalars at the top', '42'],
    ['a string at the top', '"x"'],
    ['literals', '[true,false,null]'],
    ['JSON whitespace everywhere', ' \t\r\n{ "a" : [ 1 , 2 ] , "b" : { } }\n '],
    ['every simple escape', '"\\" \\\\ \\/ \\b \\f \\n \\r \\t"'],
    ['\\u escapes, either case of hex', '"\\u0041\\u00e9\\u00E9\\u2028"'],
    ['an escaped surrogate pair', '"\\ud83d\\ude00"'],
    ['a raw surrogate pair (astral character)', '"😀 ok"'],
    ['raw U+2028 and DEL', '"\u2028\u007f"'],
    ['long strings with escapes late', `"${'x'.repeat(300)}\\n${'y'.repeat(300)}"`],
    ['a long string with a raw pair late', `"${'x'.repeat(40)}😀${'y'.repeat(40)}"`],
    ['long strings, the later ones escaped', `["${'x'.repeat(40)}","${'y'.repeat(40)}\\n${'z'.repeat(40)}","${'w'.repeat(40)}","\\t${'v'.repeat(40)}"]`],
    ['long keys', `{"${'k'.repeat(40)}":1,"${'k'.repeat(41)}":2}`],
    ['a long string ending exactly past the hand-scanned part', `["${'x'.repeat(32)}","${'x'.repeat(31)}","${'x'.repeat(33)}"]`],
    ['integers up to 2^53-1', '[9007199254740991,-9007199254740991,0,-0,123456789012345]'],
    ['fractions and exponents', '[0.1,1.5e3,1E-7,-2.5e+2,1e15,0.0000001,123.456e-2]'],
    ['the smallest subnormal double', '5e-324'],
    ['zeros written long', '[0.000,0e-999,-0.0e+5]'],
    ['unicode keys', '{"ключ":1,"鍵":2,"":3}'],
    ['integer-like keys (ordered like JSON.parse)', '{"b":1,"2":2,"1":3,"a":4}'],
    ['keys that look like Object.prototype members', '{"constructor":1,"toString":2,"hasOwnProperty":3}'],
    ['a "__proto__" key, as an own property', '{"__proto__":{"polluted":true},"x":1}'],
    ['the same key in sibling objects', '{"a":{"k":1},"b":{"k":2}}'],
    [`${MAX_JSON_DEPTH} nested arrays`, arrays(MAX_JSON_DEPTH)],
    [`${MAX_JSON_DEPTH} nested objects`, objects(MAX_JSON_DEPTH)],
  ])('%s', (_name, text) => {
    const value = accepted(text);
    expect(isDeepStrictEqual(value, JSON.parse(text))).toBe(true);
  });

  it('keeps -0 as -0, like JSON.parse', () => {
    expect(Object.is(accepted('-0'), -0)).toBe(true);
  });

  it('never sets a prototype from "__proto__"', () => {
    const value = accepted('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('readJson: what it refuses', () => {
  it.each<[string, string, JsonRefusalReason, RegExp]>([
    // what JSON.parse refuses
    ['an empty text', '', 'malformed-json', /ends where a value should start/],
    ['a trailing comma in an object', '{"a":1,}', 'malformed-json', /object key must be a string/],
    ['a trailing comma in an array', '[1,]', 'malformed-json', /value cannot start here/],
    ['a single-quoted string', "{'a':1}", 'malformed-json', /object key must be a string/],
    ['an unquoted key', '{a:1}', 'malformed-json', /object key must be a string/],
    ['a missing colon', '{"a" 1}', 'malformed-json', /colon must follow/],
    ['a missing comma', '[1 2]', 'malformed-json', /comma or a closing bracket/],
    ['an unclosed object', '{"a":1', 'malformed-json', /comma or a closing brace/],
    ['an unclosed string', '"abc', 'malformed-json', /string is not closed/],
    ['an unclosed string after an escape', '"a\\n', 'malformed-json', /string is not closed/],
    ['a raw newline in a string', '"a\nb"', 'malformed-json', /raw control character/],
    ['a raw NUL in a string', '"a\u0000b"', 'malformed-json', /raw control character/],
    ['a raw control character in a long string', `"${'x'.repeat(40)}\u001f"`, 'malformed-json', /raw control character/],
    ['an unclosed long string', `"${'x'.repeat(40)}`, 'malformed-json', /string is not closed/],
    ['a duplicate long key', `{"${'k'.repeat(40)}":1,"${'k'.repeat(40)}":2}`, 'duplicate-key', /repeats the key "k{40}"/],
    ['a raw control character in a long string after an escaped one', `["${'x'.repeat(40)}\\n${'x'.repeat(40)}\u0001"]`, 'malformed-json', /raw control character/],
    ['an unknown escape', '"\\x41"', 'malformed-json', /unknown escape/],
    ['a short \\u escape', '"\\u12"', 'malformed-json', /four hex digits/],
    ['a leading zero', '01', 'malformed-json', /more text follows/],
    ['a leading plus', '+1', 'malformed-json', /value cannot start here/],
    ['a bare minus', '-', 'malformed-json', /number needs a digit/],
    ['a decimal point without digits', '1.', 'malformed-json', /decimal point must be followed/],
    ['an exponent without digits', '1e+', 'malformed-json', /exponent needs a digit/],
    ['NaN', 'NaN', 'malformed-json', /value cannot start here/],
    ['Infinity', '[Infinity]', 'malformed-json', /value cannot start here/],
    ['a misspelt literal', 'tru', 'malformed-json', /value cannot start here/],
    ['two values', '{} {}', 'malformed-json', /more text follows/],
    ['a comment', '{"a":1}//x', 'malformed-json', /more text follows/],
    ['a non-JSON space (NBSP)', '\u00a0{}', 'malformed-json', /value cannot start here/],
    // a byte order mark
    ['a leading BOM', '\ufeff{"a":1}', 'body-bom', /byte order mark/],
    // duplicate keys at any depth
    ['a duplicate top-level key', '{"method":"ping","method":"tools/call"}', 'duplicate-key', /repeats the key "method"/],
    ['a duplicate nested key', '{"params":{"arguments":{"amount":1,"amount":2}}}', 'duplicate-key', /repeats the key "amount"/],
    ['a duplicate spelled with an escape', '{"name":1,"n\\u0061me":2}', 'duplicate-key', /repeats the key "name"/],
    ['a duplicate inside an array element', '[{"a":1},{"b":1,"b":1}]', 'duplicate-key', /repeats the key "b"/],
    ['a duplicate "__proto__"', '{"__proto__":1,"__proto__":2}', 'duplicate-key', /repeats the key "__proto__"/],
    ['a duplicate empty key', '{"":1,"":2}', 'duplicate-key', /repeats the key ""/],
    // lone surrogates
    ['an escaped lone high surrogate', '"\\ud800"', 'lone-surrogate', /\\ud800/],
    ['an escaped lone low surrogate', '"\\udc00"', 'lone-surrogate', /\\udc00/],
    ['an escaped high then a plain escape', '"\\ud800\\u0041"', 'lone-surrogate', /\\ud800/],
    ['an escaped high then a raw low', '"\\ud800\udc00"', 'lone-surrogate', /\\ud800/],
    ['a reversed escaped pair', '"\\udc00\\ud800"', 'lone-surrogate', /\\udc00/],
    ['a raw lone high surrogate', '"a\ud800b"', 'lone-surrogate', /\\ud800/],
    ['a raw lone low surrogate', '"\udfff"', 'lone-surrogate', /\\udfff/],
    ['a raw lone surrogate in a long string', `"${'x'.repeat(40)}\ud800"`, 'lone-surrogate', /\\ud800/],
    ['an escaped lone surrogate in a long string', `"${'x'.repeat(40)}\\udc00"`, 'lone-surrogate', /\\udc00/],
    ['a raw high then an escaped low', '"\ud800\\udc00"', 'lone-surrogate', /\\ud800/],
    ['a lone surrogate in a key', '{"k\\ud800":1}', 'lone-surrogate', /\\ud800/],
    // numbers readers read differently
    ['2^53', '9007199254740992', 'unsafe-number', /outside ±9007199254740991/],
    ['-2^53', '-9007199254740992', 'unsafe-number', /outside ±9007199254740991/],
    ['2^53+1 (reads as 2^53)', '9007199254740993', 'unsafe-number', /outside/],
    ['2^64', '18446744073709551616', 'unsafe-number', /number 18446744073709551616, outside/],
    ['1e20 in exponent form', '1e20', 'unsafe-number', /number 1e20, outside/],
    ['a large fraction', '9007199254740992.5', 'unsafe-number', /outside/],
    ['overflow to Infinity', '1e400', 'unsafe-number', /number 1e400, outside/],
    ['overflow to -Infinity', '[-1e400]', 'unsafe-number', /number -1e400, outside/],
    ['the largest double', '1.7976931348623157e308', 'unsafe-number', /outside/],
    ['underflow to 0', '1e-400', 'unsafe-number', /too small to read as anything but 0/],
    ['underflow below half the smallest subnormal', '2e-324', 'unsafe-number', /too small/],
    ['a very long number, cut short in the sentence', '1'.repeat(400), 'unsafe-number', /number 1{40}…, outside/],
    // nesting
    [`${MAX_JSON_DEPTH + 1} nested arrays`, arrays(MAX_JSON_DEPTH + 1), 'too-deep', /more than 64 levels deep/],
    [`${MAX_JSON_DEPTH + 1} nested objects`, objects(MAX_JSON_DEPTH + 1), 'too-deep', /more than 64 levels deep/],
    ['100000 nested arrays (no stack overflow)', arrays(100_000), 'too-deep', /more than 64 levels deep/],
  ])('%s', (_name, text, reason, says) => {
    const r = readJson(text);
    expect(r).toMatchObject({ ok: false, reason });
    if (!r.ok) expect(r.message).toMatch(says);
  });

  it('quotes at most 64 characters of a duplicate key', () => {
    const key = 'k'.repeat(500);
    const r = readJson(`{"${key}":1,"${key}":2}`);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toContain(`"${'k'.repeat(64)}…"`);
  });
});
