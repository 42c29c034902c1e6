import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/config/errors.js';
import { loadConfigFile } from '../../src/app/runtime/load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'toolgate-config-'));
const BASE = `resource: https://mcp.example.com/mcp
identity:
  jwt: { issuer: https://auth.example.com, jwksUri: https://auth.example.com/jwks.json }
tasks:
  t1:
    tools:
      - tool: refund
        when: mcp.arguments.amount <= 10
`;

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

function issuesOf(text: string): Array<{ path: string; message: string }> {
  try {
    loadConfigFile(write('c.yaml', text));
  } catch (err) {
    if (err instanceof ConfigError) return [...err.issues];
    throw err;
  }
  throw new Error('config was accepted');
}

describe('loadConfigFile', () => {
  it('accepts a valid file and fills defaults', () => {
    const rt = loadConfigFile(write('ok.yaml', BASE));
    expect(rt.config.policy.denial).toBe('result');
    expect(rt.config.identity.task.claim).toBe('authorized_tasks');
    expect(rt.config.policy.housekeeping).toContain('notifications/*');
    expect(Object.isFrozen(rt)).toBe(true);
    expect(rt.metadata.url).toBe('https://mcp.example.com/.well-known/oauth-protected-resource/mcp');
    expect(rt.config.server.extProcCloseWait).toBe('30s');
  });

  it.each([
    ['a server section without it', 'server: { grpcPort: 9101 }\n', '30s'],
    ['the cap itself', 'server: { extProcCloseWait: 45s }\n', '45s'],
    ['0s (end at once)', 'server: { extProcCloseWait: 0s }\n', '0s'],
  ])('takes server.extProcCloseWait from %s', (_name, server, wait) => {
    expect(loadConfigFile(write('wait.yaml', `${BASE}${server}`)).config.server.extProcCloseWait).toBe(wait);
  });

  it.each([
    ['a non-URL resource', BASE.replace('https://mcp.example.com/mcp', 'not a url'), 'resource'],
    ['an unknown top-level field', `${BASE}extra: 1\n`, ''],
    ['both JWKS sources missing', BASE.replace(', jwksUri: https://auth.example.com/jwks.json', ''), 'identity.jwt'],
    ['an unknown algorithm', BASE.replace('issuer:', 'algorithms: [HS256], issuer:'), 'identity.jwt.algorithms[0]'],
    ['a bad duration', BASE.replace('issuer:', 'clockTolerance: soon, issuer:'), 'identity.jwt.clockTolerance'],
    ['a bad denial mode', `${BASE}policy: { denial: silence }\n`, 'policy.denial'],
    ['a CEL syntax error', BASE.replace('<= 10', '<= '), 'tasks.t1.tools[0].when'],
    // Longer, and a routed call's stream could outlive Envoy's default 50-s gRPC client cache (docs/envoy.md, fact 19).
    ['an ext_proc close wait over 45 s', `${BASE}server: { extProcCloseWait: 46s }\n`, 'server.extProcCloseWait'],
    ['an ext_proc close wait that is no duration', `${BASE}server: { extProcCloseWait: soon }\n`, 'server.extProcCloseWait'],
  ])('names the field for %s', (_name, text, field) => {
    const issues = issuesOf(text);
    expect(issues.map((i) => i.path)).toContain(field);
    expect(issues.every((i) => i.message.length > 0)).toBe(true);
  });

  it('reports YAML syntax errors', () => {
    expect(issuesOf('resource: [unclosed\n')[0]?.message).toMatch(/^YAML:/);
  });

  it('reports a missing file', () => {
    expect(() => loadConfigFile(path.join(dir, 'absent.yaml'))).toThrow(/cannot read file: ENOENT/);
  });

  it('names jwksFile when the key file cannot be read', () => {
    const text = BASE.replace('jwksUri: https://auth.example.com/jwks.json', 'jwksFile: ./nope.json');
    expect(issuesOf(text)).toEqual([expect.objectContaining({ path: 'identity.jwt.jwksFile' })]);
  });
});
