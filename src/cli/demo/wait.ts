// Polls an HTTP readiness URL until it answers 2xx, failing early when the process behind it is gone.

export async function waitForHttpOk(url: string, opts: { timeoutMs: number; gone: () => boolean; what: string; tail?: () => string }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let last = 'no answer';
  const detail = () => (opts.tail ? `:\n${opts.tail()}` : '');
  while (Date.now() < deadline) {
    if (opts.gone()) throw new Error(`${opts.what} exited during start-up${detail()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.body?.cancel();
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${opts.what} not ready at ${url} after ${opts.timeoutMs} ms (last: ${last})${detail()}`);
}
