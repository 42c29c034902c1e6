// Messages between the orchestrator (main.ts) and the load-generator process (client.ts).

/** One endpoint at one concurrency: its own connection pool and, for 2025, its own sessions. */
export interface Target {
  readonly id: string;
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  readonly path: string;
  /** 2025: initialize once per client, then Mcp-Session-Id; 2026: Mcp-Method / Mcp-Name headers, no session. */
  readonly protocol: '2025' | '2026';
  /** The tools each client calls, in turn (gateway mode: one per backend). */
  readonly tools: readonly string[];
  readonly concurrency: number;
}

export type ToClient =
  | { readonly type: 'init'; readonly token: string; readonly targets: readonly Target[] }
  | { readonly type: 'run'; readonly targetId: string; readonly durationMs: number }
  | { readonly type: 'close' };

export interface RunResult {
  readonly type: 'result';
  readonly targetId: string;
  /** Completed requests with the expected answer. */
  readonly ok: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  /** Wall time of the run, ms. */
  readonly elapsedMs: number;
  /** One latency per completed request (ok or not), ms. */
  readonly latenciesMs: Float64Array;
  /** The client's own CPU time during the run, ms (user + system). */
  readonly clientCpuMs: number;
}

export type FromClient =
  | { readonly type: 'ready' }
  | { readonly type: 'failed'; readonly error: string }
  | RunResult;
