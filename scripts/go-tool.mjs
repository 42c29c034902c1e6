// Shared by install-istioctl.mjs and install-helm.mjs: builds a pinned Go command from the Go module proxy into .tools/.
//
// `go install <package>@<pin>` with GOBIN set to a private directory, moved into place when it is done, so an
// interrupted or concurrent build never leaves a half-written binary. A binary already there is kept when
// `go version -m` says it was built from the pinned module version. <NAME>_BIN overrides everything.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const toolsDir = join(repoRoot, '.tools');

export class InstallError extends Error {}

/**
 * @typedef {{ name: string, module: string, pkg: string, pinFile: string, env: string }} GoTool
 *   name: the command; module: the Go module the pin names; pkg: the package to install (module path + /cmd/…);
 *   pinFile: repository-relative file holding the module version; env: the override variable (e.g. ISTIOCTL_BIN).
 */

/** @param {GoTool} tool */
export function readPin(tool) {
  const file = join(repoRoot, tool.pinFile);
  const pin = readFileSync(file, 'utf8').trim();
  if (!/^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(pin)) throw new InstallError(`${file} must hold one Go module version like v4.3.1, found "${pin}"`);
  return pin;
}

/** Where the pinned build lives: .tools/<name>/<pin>/<name> (tests derive the same path). */
export const binaryPath = (tool, pin) => join(toolsDir, tool.name, pin, tool.name);

/** The version of `module` a Go binary was built from (`go version -m`), or undefined. */
function builtFrom(bin, module) {
  if (!existsSync(bin)) return undefined;
  const out = spawnSync('go', ['version', '-m', bin], { encoding: 'utf8', timeout: 30_000 });
  if (out.status !== 0) return undefined;
  // "\tmod\t<module>\t<version>\t<sum>" for the main module; a dependency line ("dep") when the command lives elsewhere.
  const line = out.stdout.split('\n').map((l) => l.trim().split(/\s+/)).find((f) => (f[0] === 'mod' || f[0] === 'dep') && f[1] === module);
  return line?.[2];
}

/** @param {GoTool} tool @returns {string} the binary to use */
export function installGoTool(tool) {
  const override = process.env[tool.env];
  if (override) {
    if (!existsSync(override)) throw new InstallError(`${tool.env}=${override} does not exist`);
    console.log(`${tool.name} ${override} (${tool.env})`);
    return override;
  }
  const pin = readPin(tool);
  const bin = binaryPath(tool, pin);
  const goVersion = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (goVersion.error || goVersion.status !== 0) {
    if (existsSync(bin)) {
      console.log(`${tool.name} ${pin} ${bin} (present; no go command to check how it was built)`);
      return bin;
    }
    throw new InstallError(`building ${tool.name} needs the go command (Go 1.26 or later), or set ${tool.env} to a ${tool.name} binary`);
  }
  if (builtFrom(bin, tool.module) === pin) {
    console.log(`${tool.name} ${pin} ${bin} (already installed)`);
    return bin;
  }
  const staging = `${dirname(bin)}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const started = Date.now();
  console.log(`install-${tool.name}: go install ${tool.pkg}@${pin} (the first build takes minutes)`);
  try {
    // -trimpath: the binary does not depend on where the module cache is. -buildvcs=false: .tools is not a repository.
    const env = { ...process.env, GOBIN: staging, GOFLAGS: `${process.env.GOFLAGS ?? ''} -trimpath -buildvcs=false`.trim(), CGO_ENABLED: '0' };
    const out = spawnSync('go', ['install', `${tool.pkg}@${pin}`], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (out.status !== 0) {
      const detail = `${out.stdout}\n${out.stderr}`.trim().split('\n').slice(-20).join('\n');
      throw new InstallError(`go install ${tool.pkg}@${pin} exited with ${out.status ?? out.signal}.\n${detail}`);
    }
    if (builtFrom(join(staging, tool.name), tool.module) !== pin) throw new InstallError(`go install finished, but ${join(staging, tool.name)} was not built from ${tool.module}@${pin}`);
    rmSync(dirname(bin), { recursive: true, force: true });
    renameSync(staging, dirname(bin));
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  console.log(`${tool.name} ${pin} ${bin} (built in ${Math.round((Date.now() - started) / 1000)} s)`);
  return bin;
}

/** Runs installGoTool as a script's main, printing a failure as one line and setting the exit code. */
export function main(tool) {
  try {
    installGoTool(tool);
  } catch (err) {
    if (!(err instanceof InstallError)) throw err;
    console.error(`install-${tool.name}: ${err.message}`);
    process.exitCode = 1;
  }
}
