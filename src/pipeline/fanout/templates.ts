// Which backends' resource templates (RFC 6570 level 1, `{var}`) a concrete URI matches: compiled once per merge.

/** Glob operations of a compiled segment: a literal character, exactly one character, or any run. */
const ANY = Symbol('one character');
const STAR = Symbol('any run');
type GlobOp = string | typeof ANY | typeof STAR;

/** RFC 6570 varname: ALPHA / DIGIT / "_" / pct-encoded, dot-separated. */
const VARNAME = /^(?:[A-Za-z0-9_]|%[0-9A-Fa-f]{2})+(?:\.(?:[A-Za-z0-9_]|%[0-9A-Fa-f]{2})+)*$/;

/** One piece of a template path segment: literal text, or a variable (one or more characters, never `/`). */
type Piece = { readonly text: string } | { readonly variable: true };

export interface TemplateMatch {
  readonly template: string;
  readonly backend: string;
}

export interface TemplateIndex {
  /** The backend that listed exactly this template text (a `completion/complete` ref names the template itself). */
  ownerOf(template: string): string | undefined;
  /** Every template a concrete URI matches, with its owner, in the merge's order. */
  matching(uri: string): TemplateMatch[];
}

interface Compiled extends TemplateMatch {
  /** The template split on `/`, as glob patterns: a variable never spans a separator, so segments match one to one. */
  readonly segments: readonly (readonly GlobOp[])[];
}

/**
 * `owners` is the templates merge's uriTemplate → backend map. A template that uses more than level 1 (operators
 * such as `{+path}` or `{?q}`, `{a,b}` lists, `:n` prefixes, `*` explode) or has unbalanced braces is kept for
 * `ownerOf` but never matches a URI: routing on a pattern toolgate cannot read exactly would guess.
 */
export function compileTemplateIndex(owners: ReadonlyMap<string, string>): TemplateIndex {
  const compiled: Compiled[] = [];
  for (const [template, backend] of owners) {
    const segments = parseTemplate(template);
    if (segments !== undefined) compiled.push({ template, backend, segments: segments.map(toGlob) });
  }
  return Object.freeze({
    ownerOf: (template: string) => owners.get(template),
    matching: (uri: string) => {
      const parts = uri.split('/');
      return compiled
        .filter((t) => t.segments.length === parts.length && t.segments.every((pieces, i) => matchSegment(pieces, parts[i] as string)))
        .map(({ template, backend }) => ({ template, backend }));
    },
  });
}

export const EMPTY_TEMPLATE_INDEX: TemplateIndex = compileTemplateIndex(new Map());

/** The template's segments, or undefined when it is not a level-1 template. */
function parseTemplate(template: string): Piece[][] | undefined {
  const segments: Piece[][] = [[]];
  let i = 0;
  while (i < template.length) {
    const current = segments[segments.length - 1] as Piece[];
    const ch = template[i] as string;
    if (ch === '{') {
      const close = template.indexOf('}', i + 1);
      if (close === -1 || !VARNAME.test(template.slice(i + 1, close))) return undefined;
      // Two variables side by side match the same as one: keep one, so matching stays linear.
      const last = current[current.length - 1];
      if (last === undefined || !('variable' in last)) current.push({ variable: true });
      i = close + 1;
    } else if (ch === '}') {
      return undefined;
    } else if (ch === '/') {
      segments.push([]);
      i += 1;
    } else {
      const next = nextSpecial(template, i);
      current.push({ text: template.slice(i, next) });
      i = next;
    }
  }
  return segments;
}

function nextSpecial(template: string, from: number): number {
  for (let j = from; j < template.length; j++) {
    const c = template[j];
    if (c === '{' || c === '}' || c === '/') return j;
  }
  return template.length;
}

/**
 * Glob matching of one segment (no `/` in `text`), where a variable is "one character, then any run". Greedy with
 * backtracking to the last variable only: O(pattern × text) at worst, whatever URI a client sends.
 */
function matchSegment(pattern: readonly GlobOp[], text: string): boolean {
  let t = 0;
  let p = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    const op = pattern[p];
    if (op !== undefined && op !== STAR && (op === ANY || op === text[t])) {
      t += 1;
      p += 1;
    } else if (op === STAR) {
      starP = p;
      starT = t;
      p += 1;
    } else if (starP !== -1) {
      p = starP + 1;
      starT += 1;
      t = starT;
    } else {
      return false;
    }
  }
  while (pattern[p] === STAR) p += 1;
  return p === pattern.length;
}

function toGlob(pieces: readonly Piece[]): GlobOp[] {
  const ops: GlobOp[] = [];
  for (const piece of pieces) {
    if ('variable' in piece) ops.push(ANY, STAR);
    else ops.push(...piece.text.split('')); // UTF-16 units, as `text[t]` reads the URI
  }
  return ops;
}
