import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/config/errors.js';
import { adminAuth, loadAdminAuth, needsAdminAuth } from '../../src/app/server/admin-auth.js';

const dir = mkdtempSync(path.join(tmpdir(), 'toolgate-admin-auth-unit-'));
const configFile = path.join(dir, 'toolgate.yaml');
const SECRET = randomBytes(32).toString('base64url');

function fileWith(name: string, text: string): string {
  writeFileSync(path.join(dir, name), text);
  return name;
}

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadAdminAuth', () => {
  it('reads the secret relative to the config file, trimming the trailing newline', () => {
    const auth = loadAdminAuth({ adminTokenFile: fileWith('ok', `${SECRET}\n`) }, configFile);
    expect(auth.check(`Bearer ${SECRET}`)).toEqual({ ok: true });
  });

  it.each([
    ['the field absent', undefined, /required/],
    ['a file that does not exist', 'missing-file', /cannot read: ENOENT/],
    ['a secret shorter than 32 bytes', 'short', /shorter than 32 bytes/],
    ['an empty file', 'empty', /shorter than 32 bytes/],
    ['a placeholder', 'placeholder', /placeholder/],
  ])('refuses to start with %s, naming server.adminTokenFile', (_name, file, message) => {
    fileWith('short', 'hunter2-hunter2\n');
    fileWith('empty', '\n');
    fileWith('placeholder', `${'changeme'.repeat(5)}\n`);
    const err = configError(() => loadAdminAuth({ adminTokenFile: file }, configFile));
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]?.path).toBe('server.adminTokenFile');
    expect(err.issues[0]?.message).toMatch(message);
    expect(err.message).toContain('server.adminTokenFile');
  });
});

describe('adminAuth().check', () => {
  const auth = adminAuth(SECRET);

  it.each([
    ['the secret', `Bearer ${SECRET}`],
    ['a lower-case scheme', `bearer ${SECRET}`],
    ['trailing spaces', `Bearer ${SECRET}  `],
  ])('accepts %s', (_name, header) => {
    expect(auth.check(header)).toEqual({ ok: true });
  });

  it.each([
    ['no header', undefined, 'missing'],
    ['an empty header', '', 'missing'],
    ['another scheme', `Basic ${SECRET}`, 'malformed'],
    ['the bare secret', SECRET, 'malformed'],
    ['an empty bearer', 'Bearer ', 'malformed'],
    ['two tokens', `Bearer ${SECRET} ${SECRET}`, 'malformed'],
    ['a wrong secret of the same length', `Bearer ${randomBytes(32).toString('base64url')}`, 'wrong-secret'],
    ['a prefix of the secret', `Bearer ${SECRET.slice(0, 20)}`, 'wrong-secret'],
    ['the secret with a suffix', `Bearer ${SECRET}x`, 'wrong-secret'],
  ])('refuses %s', (_name, header, reason) => {
    const checked = auth.check(header);
    expect(checked.ok).toBe(false);
    if (checked.ok) return;
    expect(checked.reason).toBe(reason);
    expect(checked.message).toContain('server.adminTokenFile');
    expect(checked.message).not.toContain(SECRET);
  });
});

describe('needsAdminAuth', () => {
  it.each([
    ['GET', '/healthz', false],
    ['GET', '/readyz', false],
    ['HEAD', '/readyz', false],
    ['GET', '/metrics', false],
    ['GET', '/.well-known/oauth-protected-resource', false],
    ['POST', '/admin/sessions/revoke', true],
    ['GET', '/admin/sessions/revoke', true],
    ['DELETE', '/admin/anything-added-later', true],
    ['POST', '/healthz', true],
    ['PUT', '/metrics', true],
  ])('%s %s → %s', (method, pathname, expected) => {
    expect(needsAdminAuth(method, pathname)).toBe(expected);
  });
});
