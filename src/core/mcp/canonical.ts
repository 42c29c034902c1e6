// One reading of a call's target: the name or URI a server will actually look up, and whether the raw text already is it.

/**
 * toolgate matches patterns on a target's text, and a server looks the target up after its own reading: the
 * MCP SDK does `new URL(params.uri).toString()` before it searches its resources. When the two readings differ,
 * a URI that matches `file:///public/*` as text (`file:///public/../secret/keys`) reaches a resource the pattern
 * never allowed. So toolgate accepts a target only when its text already IS the canonical reading; patterns
 * are then matched on exactly what the server resolves. Everything here is pure and cheap: a name that is plain
 * printable ASCII costs one regular-expression test, and `new URL` runs only for URI targets.
 */

/** What a target names, which decides how it is read. */
export type TargetKind = 'tool' | 'prompt' | 'resource' | 'resource-template';

export interface Target {
  readonly kind: TargetKind;
  readonly text: string;
}

export type Reading =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** True when there is no canonical form to offer (unparseable URI, ambiguous path, lone surrogate). */
      readonly invalid: boolean;
      /** The form a server reads, when there is one. */
      readonly canonical: string | undefined;
      /** Why the text is refused, as a clause for a sentence ("dot segments are resolved"). */
      readonly why: string;
    };

const OK: Reading = Object.freeze({ ok: true });

/** The fields `targetOf` needs; an `McpCall` has them. */
export interface TargetSource {
  readonly method: string;
  readonly target: string | undefined;
  readonly params: Readonly<Record<string, unknown>>;
}

const RESOURCE_METHODS: ReadonlySet<string> = new Set(['resources/read', 'resources/subscribe', 'resources/unsubscribe']);

/**
 * The target a call names, as the server will look it up. A `completion/complete` reference is read by its
 * `type`, not by whichever of `name`/`uri` happens to be present, so policy and routing agree on what it names.
 */
export function targetOf(call: TargetSource): Target | undefined {
  if (call.method === 'completion/complete') return completionTarget(call.params.ref);
  if (call.target === undefined) return undefined;
  if (call.method === 'tools/call') return { kind: 'tool', text: call.target };
  if (call.method === 'prompts/get') return { kind: 'prompt', text: call.target };
  if (RESOURCE_METHODS.has(call.method)) return { kind: 'resource', text: call.target };
  return undefined;
}

function completionTarget(ref: unknown): Target | undefined {
  if (typeof ref !== 'object' || ref === null) return undefined;
  const { type, name, uri } = ref as { type?: unknown; name?: unknown; uri?: unknown };
  if (type === 'ref/prompt' && typeof name === 'string') return { kind: 'prompt', text: name };
  // A resource reference names a URI template (`cities://{country}/{city}`), not a concrete URI.
  if (type === 'ref/resource' && typeof uri === 'string') return { kind: 'resource-template', text: uri };
  return undefined;
}

export function readTarget(target: Target): Reading {
  switch (target.kind) {
    case 'tool':
    case 'prompt':
      return readName(target.text);
    case 'resource':
      return readUri(target.text);
    case 'resource-template':
      return readUriTemplate(target.text);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Names

/** Printable ASCII without white space at either end: already canonical, and the shape of nearly every name. */
const PLAIN_NAME = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
/** Control (Cc), format (Cf: zero-width, bidi, BOM) and line/paragraph separator characters: invisible in logs. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
/** Half of a UTF-16 surrogate pair on its own: no UTF-8 reader can represent it, so readers disagree. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * A tool or prompt name is canonical when it is NFC, holds no invisible character and has no white space at
 * either end. Why each rule: servers and their registries compare names as exact strings, but the layers in
 * between do not all agree on the text — YAML readers and many server frameworks trim, some normalise Unicode
 * (a name typed on macOS arrives decomposed, NFD), and a control or zero-width character is invisible in the
 * audit log, so "refund" and "refund\u200b" read as the same call to the person reviewing it. A name with
 * one reading under all of those is one that none of them changes. An empty name is left to the policy (no
 * pattern lists it), since it is its own canonical form.
 */
export function readName(raw: string): Reading {
  if (raw.length === 0 || PLAIN_NAME.test(raw)) return OK;
  if (LONE_SURROGATE.test(raw)) {
    return { ok: false, invalid: true, canonical: undefined, why: 'it holds a lone UTF-16 surrogate, which has no UTF-8 form' };
  }
  const canonical = canonicalName(raw);
  if (canonical === raw) return OK;
  return { ok: false, invalid: false, canonical, why: explainName(raw) };
}

/** Invisible characters removed, white space trimmed, then NFC (removing a joiner can change what composes). */
export function canonicalName(raw: string): string {
  return raw.replace(INVISIBLE, '').trim().normalize('NFC');
}

function explainName(raw: string): string {
  const why: string[] = [];
  const invisible = raw.match(INVISIBLE);
  if (invisible) why.push(`it holds the invisible character ${codePoint(invisible[0])}`);
  if (raw !== raw.trimStart()) why.push('it starts with white space');
  if (raw !== raw.trimEnd()) why.push('it ends with white space');
  if (raw.replace(INVISIBLE, '').trim() !== raw.replace(INVISIBLE, '').trim().normalize('NFC')) {
    why.push('it is not in Unicode normalization form C (NFC)');
  }
  return why.join(' and ');
}

function codePoint(char: string): string {
  return `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

// ---------------------------------------------------------------------------------------------------------------
// URIs

/** WHATWG "special" schemes: only these read a backslash as `/` and lower-case an ASCII host. */
const SPECIAL_SCHEMES: ReadonlySet<string> = new Set(['http:', 'https:', 'ws:', 'wss:', 'ftp:', 'file:']);
/** An encoded `/` or `\`: the WHATWG parser keeps it, but a server that decodes before splitting sees other segments. */
const ENCODED_SEPARATOR = /%2f|%5c/i;

/**
 * A resource URI is canonical when `new URL(raw).href === raw` — the WHATWG URL reading that the MCP SDK server
 * (and any other WHATWG-conformant reader) applies: dot segments and percent-encoded dots
 * resolved, backslashes read as `/` in special schemes, tab/CR/LF removed, leading and trailing spaces and
 * controls removed, scheme and special hosts lower-cased, default ports dropped, other characters
 * percent-encoded. On top of that, an encoded `/` or `\` in the path is refused: the parser leaves `..%2F` as
 * it is, so a pattern match and a server that percent-decodes the path before using it would see two paths.
 */
export function readUri(raw: string): Reading {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, invalid: true, canonical: undefined, why: 'it is not an absolute URI that the WHATWG URL rules can parse' };
  }
  if (url.href !== raw) return { ok: false, invalid: false, canonical: url.href, why: explainUri(raw, url) };
  if (raw.includes('%') && ENCODED_SEPARATOR.test(url.pathname)) {
    return { ok: false, invalid: true, canonical: undefined, why: 'its path holds an encoded "/" or "\\" (%2F or %5C), which servers that decode the path split into other segments' };
  }
  return OK;
}

/** Template expressions (`{country}`, `{+path}`, `{?q}`) are opaque to URL parsing, so they are set aside first. */
const EXPRESSION = /\{[^{}]*\}/g;

/**
 * A URI template (RFC 6570) is canonical when, with each `{…}` expression standing for a plain word, it is a
 * canonical URI: `cities://{country}/{city}` is, `file:///public/../{name}` is not. Expressions are replaced
 * by lower-case letters so they survive host lower-casing; a template whose expression sits where only digits
 * parse (a port) is retried with digits.
 */
export function readUriTemplate(raw: string): Reading {
  if (!raw.includes('{')) return readUri(raw);
  const asWords = readUri(templateAsUri(raw));
  if (asWords.ok) return OK;
  if (asWords.invalid && readUri(raw.replace(EXPRESSION, '9')).ok) return OK;
  return { ...asWords, canonical: asWords.canonical === undefined ? undefined : restoreExpressions(raw, asWords.canonical) };
}

/** The template with every expression replaced by a plain lower-case word that every URL component keeps. */
export function templateAsUri(raw: string): string {
  return raw.replace(EXPRESSION, PLACEHOLDER);
}

const PLACEHOLDER = 'tgvar';

/** Puts the expressions back into a canonical form, when each placeholder survived once and in order. */
function restoreExpressions(raw: string, canonical: string): string | undefined {
  const expressions = raw.match(EXPRESSION) ?? [];
  const pieces = canonical.split(PLACEHOLDER);
  if (raw.includes(PLACEHOLDER) || pieces.length !== expressions.length + 1) return undefined;
  return pieces.reduce((out, piece, i) => out + (expressions[i - 1] ?? '') + piece);
}

/** Why `raw` reads as `url.href`: each WHATWG rule that applied, most telling first. Runs only on refusal. */
function explainUri(raw: string, url: URL): string {
  const why: string[] = [];
  const special = SPECIAL_SCHEMES.has(url.protocol);
  const unwrapped = raw.replace(/[\t\n\r]/g, '').replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, '');
  if (/[\t\n\r]/.test(raw)) why.push('tab and line-break characters are removed');
  if (unwrapped !== raw.replace(/[\t\n\r]/g, '')) why.push('leading and trailing spaces and control characters are removed');
  const scheme = /^[^:]*/.exec(unwrapped)?.[0] ?? '';
  if (scheme !== scheme.toLowerCase()) why.push('the scheme is lower-cased');
  if (special && url.hostname !== '' && !unwrapped.includes(url.hostname) && unwrapped.toLowerCase().includes(url.hostname)) {
    why.push('the host is lower-cased');
  }
  if (special && unwrapped.includes('\\')) why.push('a backslash is read as "/"');
  if (/(?:^|[/\\])(?:\.|%2e){1,2}(?=[/\\?#]|$)/i.test(unwrapped)) why.push('dot segments ("..", ".", "%2e%2e") are resolved');
  if (why.length === 0) why.push('the WHATWG URL rules rewrite it (percent-encoding, default port or empty path)');
  return why.join(', ');
}
