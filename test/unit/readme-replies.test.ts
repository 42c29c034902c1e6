// The README's reply table is the reply table of src/core/mcp/reply-table.ts, row for row, so the two cannot drift.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/repo.js';
import { JsonRpcCode, REASONS, type ReasonCode } from '../../src/core/mcp/reply-table.js';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const START = '<!-- reply-table: generated from src/core/mcp/reply-table.ts; test/unit/readme-replies.test.ts checks it -->';
const END = '<!-- /reply-table -->';

const CODE_NAMES = new Map<number, string>(Object.entries(JsonRpcCode).map(([name, code]) => [code, name]));

/** The Markdown the README must hold between the markers: one row per reason toolgate answers with. */
function table(): string {
  const rows = (Object.keys(REASONS) as ReasonCode[])
    .filter((reason) => REASONS[reason].jsonrpc !== 0)
    .map((reason) => {
      const info = REASONS[reason];
      const shape = info.toolResult ? 'tool result (`isError`) by default' : 'JSON-RPC error';
      return `| \`${reason}\` | ${info.http} | ${info.jsonrpc} \`${CODE_NAMES.get(info.jsonrpc) ?? '?'}\` | ${shape} | ${info.when} |`;
    });
  return ['| reason (`error.data.code`) | HTTP | JSON-RPC | shape | when |', '|---|---|---|---|---|', ...rows].join('\n');
}

describe('README reply table', () => {
  it('is there once, between its markers', () => {
    expect(README.split(START)).toHaveLength(2);
    expect(README.split(END)).toHaveLength(2);
  });

  it('is the table of src/core/mcp/reply-table.ts, row for row', () => {
    const shown = README.slice(README.indexOf(START) + START.length, README.indexOf(END)).trim();
    expect(shown).toBe(table());
  });
});
