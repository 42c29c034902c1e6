// toolgate's one JSON reader: strict, single pass, and never reads a text two ways (issue 9, "one reading").
//
// It accepts exactly the texts JSON.parse accepts, minus those on which JSON readers disagree, and for every
// text it accepts its value deep-equals JSON.parse's. Refused, besides what JSON.parse refuses:
//   - a repeated key in one object, at any depth (JSON.parse keeps the last copy, other readers the first, some
//     refuse: the policy and the backend could judge different values);
//   - an unpaired UTF-16 surrogate, escaped (`"\ud800"`) or raw, and a pair written half escaped, half raw
//     (readers replace, refuse or keep such code units differently);
//   - a number whose magnitude, read as an IEEE-754 double, exceeds 2^53−1 (`2^64`, `1e20`, `1e400` → Infinity):
//     above it integer readers wrap, refuse or keep precision that doubles lose; below it every double is
//     either an exact integer or has a fraction, which all readers see. Also a non-zero number so small that a
//     double reads it as 0 (`1e-400`), which a decimal reader would not;
//   - objects and arrays nested more than MAX_JSON_DEPTH deep (a later stage must never run out of stack);
//   - a leading byte order mark (JSON.parse refuses it too, but the SDK's reader strips it: say why).

/** The deepest nesting of objects and arrays toolgate reads; the top-level object is level 1. */
export const MAX_JSON_DEPTH = 64;

export type JsonRefusalReason = 'malformed-json' | 'duplicate-key' | 'lone-surrogate' | 'unsafe-number' | 'too-deep' | 'body-bom';

export interface JsonRefusal {
  readonly ok: false;
  readonly reason: JsonRefusalReason;
  /** A sentence the sender can act on. */
  readonly message: string;
}

export type JsonReading = { readonly ok: true; readonly value: unknown } | JsonRefusal;

/** Returned by every parse step that refused; the refusal itself waits in the reader. */
const FAIL: unique symbol = Symbol('refused');
type Parsed = unknown;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const BOM = 0xfeff;

export function readJson(text: string): JsonReading {
  if (text.charCodeAt(0) === BOM) {
    return refusal('body-bom', 'The request body starts with a byte order mark (U+FEFF); send UTF-8 JSON without one.');
  }
  const reader = new Reader(text);
  reader.skipSpace();
  const value = reader.value(0);
  reader.skipSpace();
  if (value !== FAIL && reader.pos < text.length) reader.malformed('more text follows the JSON value');
  return reader.refused ?? { ok: true, value };
}

class Reader {
  pos = 0;
  refused: JsonRefusal | undefined;
  /** Where the next backslash is, once a long string asked (the text's length when there is none). */
  private nextBackslash = -1;

  constructor(private readonly text: string) {}

  skipSpace(): void {
    const t = this.text;
    let i = this.pos;
    for (;;) {
      const c = t.charCodeAt(i);
      // JSON's whitespace is exactly these four; NaN (past the end) stops the loop.
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.pos = i;
  }

  value(depth: number): Parsed {
    const c = this.text.charCodeAt(this.pos);
    if (c === QUOTE) return this.string();
    if (c === 0x7b) return this.object(depth + 1);
    if (c === 0x5b) return this.array(depth + 1);
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (c === 0x74) return this.literal('true', true);
    if (c === 0x66) return this.literal('false', false);
    if (c === 0x6e) return this.literal('null', null);
    return this.malformed(this.pos >= this.text.length ? 'the text ends where a value should start' : 'a value cannot start here');
  }

  private object(depth: number): Parsed {
    if (depth > MAX_JSON_DEPTH) return this.tooDeep();
    const t = this.text;
    const obj: Record<string, unknown> = {};
    this.pos++;
    this.skipSpace();
    if (t.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return obj;
    }
    for (;;) {
      if (t.charCodeAt(this.pos) !== QUOTE) return this.malformed('an object key must be a string');
      const key = this.string();
      if (key === FAIL) return FAIL;
      this.skipSpace();
      if (t.charCodeAt(this.pos) !== 0x3a) return this.malformed('a colon must follow an object key');
      this.pos++;
      this.skipSpace();
      const v = this.value(depth);
      if (v === FAIL) return FAIL;
      if (Object.hasOwn(obj, key as string)) return this.duplicate(key as string);
      // JSON.parse makes "__proto__" an own property; plain assignment would set the prototype instead.
      if (key === '__proto__') Object.defineProperty(obj, key, { value: v, writable: true, enumerable: true, configurable: true });
      else obj[key as string] = v;
      this.skipSpace();
      const c = t.charCodeAt(this.pos);
      this.pos++;
      if (c === 0x2c) {
        this.skipSpace();
        continue;
      }
      if (c === 0x7d) return obj;
      this.pos--;
      return this.malformed('a comma or a closing brace must follow an object member');
    }
  }

  private array(depth: number): Parsed {
    if (depth > MAX_JSON_DEPTH) return this.tooDeep();
    const t = this.text;
    const arr: unknown[] = [];
    this.pos++;
    this.skipSpace();
    if (t.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return arr;
    }
    for (;;) {
      const v = this.value(depth);
      if (v === FAIL) return FAIL;
      arr.push(v);
      this.skipSpace();
      const c = t.charCodeAt(this.pos);
      this.pos++;
      if (c === 0x2c) {
        this.skipSpace();
        continue;
      }
      if (c === 0x5d) return arr;
      this.pos--;
      return this.malformed('a comma or a closing bracket must follow an array element');
    }
  }

  /** The common case, a string with no escape and no surrogate, is one slice of the source. */
  private string(): Parsed {
    const t = this.text;
    const start = this.pos + 1;
    const byHand = Math.min(t.length, start + SHORT_STRING);
    let i = start;
    for (; i < byHand; i++) {
      const c = t.charCodeAt(i);
      if (c === QUOTE) {
        this.pos = i + 1;
        return t.slice(start, i);
      }
      if (c === BACKSLASH || c < 0x20 || (c & 0xf800) === 0xd800) return this.escapedString(start, i);
    }
    return this.longString(start, i);
  }

  /**
   * A string longer than SHORT_STRING, checked up to `from`: native scans instead of a loop over every character.
   * indexOf finds the closing quote and the next backslash; when no escape comes first, JSON.parse of that
   * escape-free token refuses control characters and isWellFormed finds lone surrogates. Anything odd goes to
   * escapedString, which reads the rest character by character and says what is wrong.
   */
  private longString(start: number, from: number): Parsed {
    const t = this.text;
    const end = t.indexOf('"', from);
    if (end === -1) {
      this.pos = t.length;
      return this.malformed('a string is not closed');
    }
    if (this.nextBackslash < from) {
      const b = t.indexOf('\\', from);
      this.nextBackslash = b === -1 ? t.length : b;
    }
    if (this.nextBackslash < end) return this.escapedString(start, from);
    let value: string & WellFormed;
    try {
      value = JSON.parse(t.slice(start - 1, end + 1)) as string & WellFormed;
    } catch {
      return this.escapedString(start, from);
    }
    if (!value.isWellFormed()) return this.escapedString(start, from);
    this.pos = end + 1;
    return value;
  }

  /** From `from` on, the string has escapes or surrogates: decode them, pairing surrogates as written. */
  private escapedString(start: number, from: number): Parsed {
    const t = this.text;
    let out = '';
    /** Start of the run of plain characters not yet copied to `out`. */
    let run = start;
    let i = from;
    while (i < t.length) {
      const c = t.charCodeAt(i);
      if (c === QUOTE) {
        this.pos = i + 1;
        return out + t.slice(run, i);
      }
      if (c === BACKSLASH) {
        out += t.slice(run, i);
        const e = t.charCodeAt(i + 1);
        if (e === 0x75) {
          const unit = hex4(t, i + 2);
          if (unit < 0) return this.malformedAt(i, 'a \\u escape needs four hex digits');
          if ((unit & 0xf800) !== 0xd800) {
            out += String.fromCharCode(unit);
            i += 6;
          } else {
            // An escaped surrogate must be a high one followed at once by an escaped low one.
            const low = t.charCodeAt(i + 6) === BACKSLASH && t.charCodeAt(i + 7) === 0x75 ? hex4(t, i + 8) : -1;
            if (unit >= 0xdc00 || low < 0xdc00 || low > 0xdfff) return this.loneSurrogate(i, unit);
            out += String.fromCharCode(unit, low);
            i += 12;
          }
        } else {
          const decoded = SIMPLE_ESCAPES[e];
          if (decoded === undefined) return this.malformedAt(i, 'a string has an unknown escape');
          out += decoded;
          i += 2;
        }
        run = i;
        continue;
      }
      if (c < 0x20) return this.malformedAt(i, 'a string holds a raw control character (escape it)');
      if ((c & 0xf800) === 0xd800) {
        // A raw surrogate must be a high one followed at once by a raw low one.
        const next = t.charCodeAt(i + 1);
        if (c >= 0xdc00 || !(next >= 0xdc00 && next <= 0xdfff)) return this.loneSurrogate(i, c);
        i += 2;
        continue;
      }
      i++;
    }
    this.pos = t.length;
    return this.malformed('a string is not closed');
  }

  private number(): Parsed {
    const t = this.text;
    const start = this.pos;
    let i = start;
    const negative = t.charCodeAt(i) === 0x2d;
    if (negative) i++;
    let c = t.charCodeAt(i);
    let small = 0;
    const intStart = i;
    if (c === 0x30) {
      i++;
    } else if (c >= 0x31 && c <= 0x39) {
      do {
        small = small * 10 + (c - 0x30);
        c = t.charCodeAt(++i);
      } while (c >= 0x30 && c <= 0x39);
    } else {
      this.pos = i;
      return this.malformed('a number needs a digit');
    }
    const intDigits = i - intStart;
    let plain = true;
    c = t.charCodeAt(i);
    if (c === 0x2e) {
      plain = false;
      if (!isDigit(t.charCodeAt(++i))) return this.malformedAt(i, 'a decimal point must be followed by a digit');
      do i++;
      while (isDigit(t.charCodeAt(i)));
      c = t.charCodeAt(i);
    }
    if (c === 0x65 || c === 0x45) {
      plain = false;
      c = t.charCodeAt(++i);
      if (c === 0x2b || c === 0x2d) i++;
      if (!isDigit(t.charCodeAt(i))) return this.malformedAt(i, 'an exponent needs a digit');
      do i++;
      while (isDigit(t.charCodeAt(i)));
    }
    // A leading zero may not be followed by more digits ("01"): the grammar above stops after it, and the
    // digit left over is refused by whoever reads next, as JSON.parse does.
    this.pos = i;
    // Up to 15 digits, the running sum is the exact value (below 2^53) and needs no check.
    if (plain && intDigits <= 15) return negative ? -small : small;
    const value = Number(t.slice(start, i));
    if (!(Math.abs(value) <= Number.MAX_SAFE_INTEGER)) return this.unsafeNumber(start, i, 'outside ±9007199254740991 (2^53−1)');
    if (value === 0 && /[1-9]/.test(mantissa(t.slice(start, i)))) return this.unsafeNumber(start, i, 'too small to read as anything but 0');
    return value;
  }

  private literal(word: string, value: boolean | null): Parsed {
    if (!this.text.startsWith(word, this.pos)) return this.malformed('a value cannot start here');
    this.pos += word.length;
    return value;
  }

  malformed(what: string): typeof FAIL {
    return this.refuse('malformed-json', `The request body is not valid JSON: ${what} (at character ${this.pos}).`);
  }

  private malformedAt(at: number, what: string): typeof FAIL {
    this.pos = at;
    return this.malformed(what);
  }

  private duplicate(key: string): typeof FAIL {
    return this.refuse(
      'duplicate-key',
      `The request body repeats the key ${quoted(key)} in one object; JSON readers disagree on which copy counts, so it was not forwarded. Send each key once.`,
    );
  }

  private loneSurrogate(at: number, unit: number): typeof FAIL {
    this.pos = at;
    return this.refuse(
      'lone-surrogate',
      `The request body has an unpaired UTF-16 surrogate (\\u${unit.toString(16).padStart(4, '0')}) in a string at character ${at}; ` +
        'JSON readers disagree on what it means, so it was not forwarded. Send well-formed Unicode.',
    );
  }

  private unsafeNumber(start: number, end: number, what: string): typeof FAIL {
    const literal = end - start > 40 ? `${this.text.slice(start, start + 40)}…` : this.text.slice(start, end);
    return this.refuse(
      'unsafe-number',
      `The request body has the number ${literal}, ${what}; JSON readers disagree on such numbers, so it was not forwarded. ` +
        'Send it as a string, or as a number within that range.',
    );
  }

  private tooDeep(): typeof FAIL {
    return this.refuse('too-deep', `The request body nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep; toolgate reads at most ${MAX_JSON_DEPTH}.`);
  }

  private refuse(reason: JsonRefusalReason, message: string): typeof FAIL {
    this.refused = refusal(reason, message);
    return FAIL;
  }
}

/** Up to this many characters, a string is scanned by hand; past that, natively (see longString). */
const SHORT_STRING = 32;

/** String.prototype.isWellFormed (ES2024, Node 20+), which TypeScript's ES2023 library does not declare. */
interface WellFormed {
  isWellFormed(): boolean;
}

const SIMPLE_ESCAPES: Readonly<Record<number, string>> = {
  0x22: '"',
  0x5c: '\\',
  0x2f: '/',
  0x62: '\b',
  0x66: '\f',
  0x6e: '\n',
  0x72: '\r',
  0x74: '\t',
};

function refusal(reason: JsonRefusalReason, message: string): JsonRefusal {
  return { ok: false, reason, message };
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** The code unit four hex digits at `at` spell, or -1. */
function hex4(t: string, at: number): number {
  let unit = 0;
  for (let k = at; k < at + 4; k++) {
    const c = t.charCodeAt(k);
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (d < 0) return -1;
    unit = unit * 16 + d;
  }
  return unit;
}

/** The digits before the exponent: they decide whether a number that reads as 0 was meant as 0. */
function mantissa(literal: string): string {
  const e = literal.search(/[eE]/);
  return e === -1 ? literal : literal.slice(0, e);
}

function quoted(key: string): string {
  return JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key);
}
