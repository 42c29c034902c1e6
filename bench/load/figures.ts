// Derived figures over the aggregated rounds (pure): a path against its Envoy-alone baseline, the per-scenario map
// results.json carries, and toolgate's added cost as a multiple of the native floor's (g).
import type { ScenarioKey } from './scenarios.js';
import type { ScenarioSummary } from './stats.js';

/** Aggregates by `${scenario key}@${concurrency}`. */
export type Summaries = ReadonlyMap<string, ScenarioSummary>;

export const at = (summaries: Summaries, key: ScenarioKey, c: number): ScenarioSummary | undefined => summaries.get(`${key}@${c}`);

const round = (v: number, d = 3) => (Number.isFinite(v) ? Number(v.toFixed(d)) : v);

export interface Comparison {
  readonly baseline: ScenarioKey;
  readonly added_p50_ms: number;
  readonly added_p99_ms: number;
  readonly p50_ratio: number;
  readonly p99_ratio: number;
  readonly throughput_ratio: number;
}

/** A path against its baseline at one concurrency; undefined when either was not measured. */
export function compareTo(summaries: Summaries, key: ScenarioKey, baseline: ScenarioKey | undefined, c: number): Comparison | undefined {
  const mine = at(summaries, key, c);
  const base = baseline && at(summaries, baseline, c);
  if (!mine || !base || !baseline) return undefined;
  return {
    baseline,
    added_p50_ms: round(mine.latencyMs.p50 - base.latencyMs.p50),
    added_p99_ms: round(mine.latencyMs.p99 - base.latencyMs.p99),
    p50_ratio: round(mine.latencyMs.p50 / base.latencyMs.p50),
    p99_ratio: round(mine.latencyMs.p99 / base.latencyMs.p99),
    throughput_ratio: round(mine.throughputRps / base.throughputRps),
  };
}

/** The figures results.json keeps per scenario and concurrency (null: the path has no toolgate). */
export interface ScenarioFigures {
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly req_per_s: number;
  readonly requests: number;
  readonly failed: number;
  readonly toolgate_cpu_us_per_request: number | null;
  readonly toolgate_rss_mib: number | null;
  readonly envoy_cpu_us_per_request: number | null;
  readonly backend_cpu_us_per_request: number | null;
  readonly client_cpu_us_per_request: number | null;
}

export function scenarioFigures(s: ScenarioSummary): ScenarioFigures {
  const opt = (v: number | undefined, d: number) => (v === undefined ? null : round(v, d));
  return {
    p50_ms: round(s.latencyMs.p50),
    p99_ms: round(s.latencyMs.p99),
    req_per_s: round(s.throughputRps, 1),
    requests: s.requests,
    failed: s.errors,
    toolgate_cpu_us_per_request: opt(s.cpuUsPerRequest.toolgate, 1),
    toolgate_rss_mib: opt(s.rssMiB.toolgate, 1),
    envoy_cpu_us_per_request: opt(s.cpuUsPerRequest.envoy, 1),
    backend_cpu_us_per_request: opt(s.cpuUsPerRequest.backend, 1),
    client_cpu_us_per_request: opt(s.cpuUsPerRequest.client, 1),
  };
}

/** One path's cost over (b) next to (g)'s, and the multiple; the multiple is null when (g) added nothing measurable. */
export interface AddedVsNative {
  readonly path: ScenarioKey;
  readonly added_p50_ms: { readonly path: number; readonly native: number };
  readonly added_p50_ratio: number | null;
  readonly added_p99_ms: { readonly path: number; readonly native: number };
  readonly added_p99_ratio: number | null;
  /** Proxy-side CPU per request (Envoy + toolgate) over (b)'s Envoy CPU. */
  readonly added_cpu_us_per_request: { readonly path: number; readonly native: number };
  readonly added_cpu_ratio: number | null;
  readonly throughput_vs_b: { readonly path: number; readonly native: number };
}

/** Divides only by a positive cost: a native floor that measured as free (noise) gives no multiple, not ∞ or < 0. */
export function costRatio(path: number, native: number): number | null {
  if (!Number.isFinite(path) || !Number.isFinite(native) || native <= 0) return null;
  return round(path / native, 2);
}

/** `path` (d or f) against (g), both over (b), at one concurrency; undefined unless b, g and the path all ran. */
export function addedVsNative(summaries: Summaries, path: ScenarioKey, c: number): AddedVsNative | undefined {
  const p = at(summaries, path, c);
  const g = at(summaries, 'g', c);
  const b = at(summaries, 'b', c);
  if (!p || !g || !b) return undefined;
  const proxyCpu = (s: ScenarioSummary) => (s.cpuUsPerRequest.envoy ?? 0) + (s.cpuUsPerRequest.toolgate ?? 0);
  const base = b.cpuUsPerRequest.envoy ?? 0;
  const p50 = { path: round(p.latencyMs.p50 - b.latencyMs.p50), native: round(g.latencyMs.p50 - b.latencyMs.p50) };
  const p99 = { path: round(p.latencyMs.p99 - b.latencyMs.p99), native: round(g.latencyMs.p99 - b.latencyMs.p99) };
  const cpu = { path: round(proxyCpu(p) - base, 1), native: round(proxyCpu(g) - base, 1) };
  return {
    path,
    added_p50_ms: p50,
    added_p50_ratio: costRatio(p50.path, p50.native),
    added_p99_ms: p99,
    added_p99_ratio: costRatio(p99.path, p99.native),
    added_cpu_us_per_request: cpu,
    added_cpu_ratio: costRatio(cpu.path, cpu.native),
    throughput_vs_b: { path: round(p.throughputRps / b.throughputRps), native: round(g.throughputRps / b.throughputRps) },
  };
}
