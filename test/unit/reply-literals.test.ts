// No file in src/ but the reply table spells a JSON-RPC error number: every reply takes its code from
// src/core/mcp/reply-table.ts by reason, so one table says what each code means.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TABLE = 'src/core/mcp/reply-table.ts';

/** A literal in the reserved JSON-RPC range (-32768..-32000) as code writes it: -32001, - 32001 is not code. */
const LITERAL = /-32\d{3}\b/g;

/** The code of a TypeScript file without its comments, so prose that names a code ("-32020") is not a reply site. */
function withoutComments(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .split('\n')
    .map((line) => line.replace(/(^|[^:'"`\\])\/\/.*$/, '$1'))
    .join('\n');
}

/** `file:line: literal` for every JSON-RPC number written in code. */
function literalCodes(file: string, text: string): string[] {
  const found: string[] = [];
  withoutComments(text).split('\n').forEach((line, i) => {
    for (const m of line.matchAll(LITERAL)) found.push(`${file}:${i + 1}: ${m[0]}`);
  });
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(rel);
    return /\.(ts|mts|cts|js|mjs)$/.test(entry.name) ? [rel] : [];
  });
}

describe('JSON-RPC codes live in the reply table only', () => {
  it('no file of src/ but the table writes a -32xxx number', () => {
    const files = sourceFiles('src');
    expect(files).toContain(TABLE);
    const found = files.filter((f) => f !== TABLE).flatMap((f) => literalCodes(f, readFileSync(path.join(ROOT, f), 'utf8')));
    expect(found).toEqual([]);
  });

  it('the table itself is where the numbers are', () => {
    expect(literalCodes(TABLE, readFileSync(path.join(ROOT, TABLE), 'utf8')).length).toBeGreaterThanOrEqual(8);
  });

  it.each([
    ['a literal code at a reply site', "return errorReply(call.id, -32001, 'Session not found', 404);", 1],
    ['a literal in an object', "body: JSON.stringify({ error: { code: -32603, message } }),", 1],
    ['a literal after a URL in a string', "const u = 'http://x'; const c = -32600;", 1],
    ['prose in a line comment', '// the SDK throws -32602 on a mismatch', 0],
    ['prose in a block comment', '/**\n * refuses (400) with -32020\n */\nconst x = 1;', 0],
    ['a code taken from the table', "errorReply(call.id, 'session-not-found', message)", 0],
  ])('finds %s', (_name, text, count) => {
    expect(literalCodes('x.ts', text)).toHaveLength(count);
  });
});
