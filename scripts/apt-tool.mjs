// Shared by the install-* scripts: make sure a command runs, installing its Debian package as root when it does not.
// Never fails the caller: without root or apt it prints how to install and returns, so the rest of the suite still
// runs (the suites that need the tool then fail with the same instructions).
import { spawnSync } from 'node:child_process';

/**
 * @param {{ tag: string, bin: string, pkg: string, how: string, version: () => string | undefined }} tool
 */
export function ensureDebianTool(tool) {
  const found = tool.version();
  if (found) {
    console.log(`${tool.tag}: ${tool.bin} ${found} present`);
    return;
  }
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!isRoot || !hasApt) {
    console.warn(`${tool.tag}: ${tool.bin} not found and ${isRoot ? 'apt-get is not available' : 'not running as root'}. ${tool.how}`);
    return;
  }
  const run = (command, args) => {
    console.log(`${tool.tag}: ${command} ${args.join(' ')}`);
    const out = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (out.error) throw new Error(`${command}: ${out.error.message}`);
    if (out.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${out.status}`);
  };
  const install = ['install', '-y', '--no-install-recommends', tool.pkg];
  try {
    // The package lists may be missing or stale on a fresh machine: refresh them only when the first try fails.
    try {
      run('apt-get', install);
    } catch {
      run('apt-get', ['update']);
      run('apt-get', install);
    }
  } catch (err) {
    console.warn(`${tool.tag}: ${err.message}. ${tool.how}`);
    return;
  }
  const installed = tool.version();
  if (!installed) {
    console.warn(`${tool.tag}: apt-get finished but ${tool.bin} still does not run. ${tool.how}`);
    return;
  }
  console.log(`${tool.tag}: installed ${tool.bin} ${installed}`);
}

/** The first line of `bin args…` when it exits 0, else undefined. */
export function probe(bin, args, timeout = 30_000) {
  const out = spawnSync(bin, args, { encoding: 'utf8', timeout });
  if (out.error || out.status !== 0) return undefined;
  return out.stdout.trim();
}
