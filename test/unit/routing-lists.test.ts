import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/core/config/schema.js';
import { compilePolicy } from '../../src/core/policy/compile.js';
import { filterListBody, visibleFor } from '../../src/pipeline/extproc/lists.js';
import { createToolCatalog } from '../../src/core/mcp/catalog.js';

const policy = compilePolicy(
  configSchema.parse({
    resource: 'https://mcp.test/mcp',
    identity: { jwt: { issuer: 'https://auth.test', jwksUri: 'https://auth.test/jwks' } },
    tasks: { reader: { tools: [{ tool: 'echo*' }], prompts: ['greet*'], resources: ['file:///public/*'] } },
  }),
  'routing-lists.yaml',
);
const tasks = ['reader'];

describe('visibleFor reads a listed name as a call would', () => {
  it.each([
    ['a canonical URI under the pattern', 'resources', 'file:///public/a', true],
    ['a URI outside the pattern', 'resources', 'file:///secret/keys', false],
    ['a URI whose text matches but which reads as another', 'resources', 'file:///public/../secret/keys', false],
    ['encoded dots', 'resources', 'file:///public/%2E%2E/secret/keys', false],
    ['an upper-case scheme (a read of it would be refused)', 'resources', 'FILE:///public/a', false],
    ['a template under the pattern', 'resourceTemplates', 'file:///public/{name}', true],
    ['a template that escapes through dot segments', 'resourceTemplates', 'file:///public/../{name}', false],
    ['a template is not read as a plain URI (its braces would be encoded)', 'resources', 'file:///public/{name}', false],
    ['a canonical tool', 'tools', 'echo', true],
    ['a tool with a trailing space', 'tools', 'echo ', false],
    ['a prompt in NFD', 'prompts', 'greete\u0301', false],
    ['the same prompt in NFC', 'prompts', 'greet\u00e9', true],
  ] as const)('%s', (_name, kind, name, expected) => {
    expect(visibleFor(policy, tasks, kind, name)).toBe(expected);
  });
});

describe('filterListBody keeps only what the task may use, as the server reads it', () => {
  it('filters resources/list', () => {
    const uris = ['file:///public/a', 'file:///public/../secret/keys', 'file:///secret/keys', 'file:///public\\..\\secret'];
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { resources: uris.map((uri) => ({ uri, name: uri })) } });
    const out = JSON.parse(filterListBody(policy, createToolCatalog(), tasks, 'resources/list', 'application/json', body) ?? '{}');
    expect(out.result.resources.map((r: { uri: string }) => r.uri)).toEqual(['file:///public/a']);
  });

  it('filters resources/templates/list with the template reading', () => {
    const templates = ['file:///public/{name}', 'file:///public/%2e%2e/{name}', 'file:///secret/{name}'];
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { resourceTemplates: templates.map((uriTemplate) => ({ uriTemplate, name: uriTemplate })) } });
    const out = JSON.parse(filterListBody(policy, createToolCatalog(), tasks, 'resources/templates/list', 'application/json', body) ?? '{}');
    expect(out.result.resourceTemplates.map((t: { uriTemplate: string }) => t.uriTemplate)).toEqual(['file:///public/{name}']);
  });
});
