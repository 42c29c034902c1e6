// The one polling helper: waits for a condition the test cannot be told about, bounded, never a speed assertion.
import { setTimeout as delay } from 'node:timers/promises';

/** Polls `probe` every `everyMs` until it returns true; throws `<what>: not true within <timeoutMs> ms` after that. */
export async function eventually(probe: () => Promise<boolean> | boolean, what: string, timeoutMs = 15_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not true within ${timeoutMs} ms`);
    await delay(everyMs);
  }
}
