// Latency percentiles and per-scenario aggregation over the measured rounds.
import type { RunResult } from './protocol.js';

export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** Nearest-rank percentiles over every sample (ms). */
export function summarize(samples: readonly Float64Array[]): LatencySummary {
  const total = samples.reduce((n, s) => n + s.length, 0);
  const all = new Float64Array(total);
  let offset = 0;
  for (const s of samples) {
    all.set(s, offset);
    offset += s.length;
  }
  all.sort();
  const at = (q: number) => (total === 0 ? NaN : (all[Math.min(total - 1, Math.max(0, Math.ceil(q * total) - 1))] as number));
  let sum = 0;
  for (const v of all) sum += v;
  return { count: total, mean: total ? sum / total : NaN, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: total ? (all[total - 1] as number) : NaN };
}

/** What one round of one scenario measured: the client's result plus the processes' CPU and memory. */
export interface RoundMeasure extends Omit<RunResult, 'type' | 'targetId'> {
  /** CPU ms used during the round, per process name (toolgate, envoy, backend). */
  readonly cpuMs: Readonly<Record<string, number>>;
  /** RSS KiB after the round, per process name. */
  readonly rssKiB: Readonly<Record<string, number>>;
  readonly loadAvg1: number;
}

export interface ScenarioSummary {
  readonly rounds: number;
  readonly requests: number;
  readonly errors: number;
  /** What the first failed request got back, when one failed. */
  readonly firstError: string | undefined;
  readonly latencyMs: LatencySummary;
  /** Completed requests per second over all rounds. */
  readonly throughputRps: number;
  /** Slowest and fastest round, req/s: how much the machine drifted. */
  readonly throughputRoundsRps: { readonly min: number; readonly max: number };
  /** CPU µs per completed request, per process name, plus `client`. */
  readonly cpuUsPerRequest: Readonly<Record<string, number>>;
  /** Largest RSS seen after a round, MiB, per process name. */
  readonly rssMiB: Readonly<Record<string, number>>;
}

export function aggregate(rounds: readonly RoundMeasure[]): ScenarioSummary {
  const requests = rounds.reduce((n, r) => n + r.ok + r.errors, 0);
  const elapsed = rounds.reduce((n, r) => n + r.elapsedMs, 0);
  const perRound = rounds.map((r) => ((r.ok + r.errors) * 1000) / r.elapsedMs);
  const names = new Set(rounds.flatMap((r) => Object.keys(r.cpuMs)));
  const cpu: Record<string, number> = {};
  for (const name of names) cpu[name] = (rounds.reduce((n, r) => n + (r.cpuMs[name] ?? 0), 0) * 1000) / Math.max(1, requests);
  cpu.client = (rounds.reduce((n, r) => n + r.clientCpuMs, 0) * 1000) / Math.max(1, requests);
  const rss: Record<string, number> = {};
  for (const name of new Set(rounds.flatMap((r) => Object.keys(r.rssKiB)))) {
    rss[name] = Math.max(...rounds.map((r) => r.rssKiB[name] ?? 0)) / 1024;
  }
  return {
    rounds: rounds.length,
    requests,
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    firstError: rounds.find((r) => r.firstError !== undefined)?.firstError,
    latencyMs: summarize(rounds.map((r) => r.latenciesMs)),
    throughputRps: (requests * 1000) / Math.max(1, elapsed),
    throughputRoundsRps: { min: Math.min(...perRound), max: Math.max(...perRound) },
    cpuUsPerRequest: cpu,
    rssMiB: rss,
  };
}
