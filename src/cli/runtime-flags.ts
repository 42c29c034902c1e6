// The V8 settings toolgate runs with, and the re-exec that gives them to a Node started without them.

/**
 * `--max-semi-space-size=8` caps V8's young generation at 2 × 8 MiB. Node 24 sizes it by the machine's memory and
 * let it grow to ~104 MiB under 32 concurrent Checks, most of toolgate's RSS under load; at 8 MiB the median peak
 * RSS of 4 × 20 s of load fell from 220 to 162 MiB with no measurable CPU cost per call (docs/benchmark.md, "Memory").
 */
export const RUNTIME_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

const nameOf = (flag: string) => (flag.split('=')[0] ?? flag).replaceAll('_', '-');

/** The runtime flags that neither Node's command line nor NODE_OPTIONS set: a value given there wins. */
export function missingRuntimeFlags(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const given = new Set([...execArgv, ...(nodeOptions ?? '').split(/\s+/)].filter((arg) => arg.startsWith('--')).map(nameOf));
  return RUNTIME_FLAGS.filter((flag) => !given.has(nameOf(flag)));
}

/**
 * V8 sizes its heap when the process starts (`v8.setFlagsFromString` later has no effect on it), so an entry point
 * started without the flags replaces itself with `execve`: same pid, stdio, environment and arguments, the flags
 * added. Returns without doing anything when none is missing, or where Node has no `process.execve` (Windows): the
 * process then runs on V8's defaults. Call it first thing, before anything is started.
 */
export function relaunchWithRuntimeFlags(entry: string): void {
  const missing = missingRuntimeFlags(process.execArgv, process.env.NODE_OPTIONS);
  if (missing.length === 0 || typeof process.execve !== 'function' || process.platform === 'win32') return;
  process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, entry, ...process.argv.slice(2)]);
}
