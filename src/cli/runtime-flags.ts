// The V8 settings toolgate runs with, and the re-exec that gives them to a Node started without them.

/**
 * Measured with bench/memory (docs/benchmark.md, "Memory"), each against the same runs without it:
 * - `--max-semi-space-size=8` caps V8's young generation at 2 x 8 MiB. Node 24 sizes it by the machine's memory and
 *   let it grow to ~104 MiB under 32 concurrent Checks: median peak RSS 220 -> 162 MiB, no CPU cost visible.
 * - `--heap-growing-percent=50` lets the old generation grow to 1.5x what the last full GC kept, instead of up to 4x:
 *   the live heap under load is ~26 MiB, but garbage promoted out of the young generation piled up to 50-67 MiB
 *   before V8 collected it. Median peak RSS 193 -> 134 MiB; more full GCs (10-22 per 15 s instead of 2-3), no GC
 *   pause or CPU cost per call visible. A growth rule, not a cap: a bigger live heap still fits.
 */
export const RUNTIME_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--heap-growing-percent=50'];

const nameOf = (flag: string) => (flag.split('=')[0] ?? flag).replaceAll('_', '-');

/**
 * The runtime flags that neither Node's command line nor NODE_OPTIONS set: a value given there wins. (Node accepts
 * `--max-semi-space-size` in NODE_OPTIONS but not `--heap-growing-percent`: that one is overridden on the command line.)
 */
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
