// The benchmark's goals table (issue 10) and derived figures, on hand-made aggregates: each goal's pass/fail edge,
// "not measured" when a run lacks what a goal needs, and the added-cost multiple against the native floor (g).
import { describe, expect, it } from 'vitest';
import { addedVsNative, costRatio, scenarioFigures, type Summaries } from '../../bench/load/figures.js';
import { checkGoals, cheaperGoal, type Goal } from '../../bench/load/goals.js';
import type { ScenarioSummary } from '../../bench/load/stats.js';

interface Shape {
  p50: number;
  p99: number;
  rps: number;
  toolgate?: number;
  envoy?: number;
  rss?: number;
}

function summary(s: Shape): ScenarioSummary {
  return {
    rounds: 1,
    requests: 1000,
    errors: 0,
    firstError: undefined,
    latencyMs: { count: 1000, mean: s.p50, p50: s.p50, p90: s.p99, p99: s.p99, p999: s.p99, max: s.p99 },
    throughputRps: s.rps,
    throughputRoundsRps: { min: s.rps, max: s.rps },
    cpuUsPerRequest: { backend: 150, client: 50, ...(s.envoy === undefined ? {} : { envoy: s.envoy }), ...(s.toolgate === undefined ? {} : { toolgate: s.toolgate }) },
    rssMiB: { backend: 120, ...(s.rss === undefined ? {} : { toolgate: s.rss }) },
  };
}

const map = (entries: Record<string, Shape>): Summaries => new Map(Object.entries(entries).map(([k, v]) => [k, summary(v)]));

/** A run that meets every goal, at 1, 8 and 32 clients. */
function passing(): Record<string, Shape> {
  const out: Record<string, Shape> = {};
  for (const c of [1, 8, 32]) {
    out[`b@${c}`] = { p50: 0.5, p99: 1.0, rps: 2000, envoy: 100 };
    out[`d@${c}`] = { p50: 0.9, p99: 2.5, rps: 1200, envoy: 250, toolgate: c === 1 ? 340 : 190, rss: 90 };
    out[`e0@${c}`] = { p50: 0.5, p99: 1.0, rps: 2000, envoy: 100 };
    out[`e@${c}`] = { p50: 0.7, p99: 1.5, rps: 1500, envoy: 200, toolgate: 150, rss: 95 };
  }
  return out;
}

const find = (goals: Goal[], start: string) => {
  const g = goals.find((x) => x.goal.startsWith(start));
  if (!g) throw new Error(`no goal ${start}: ${goals.map((x) => x.goal).join(' | ')}`);
  return g;
};

describe('checkGoals', () => {
  it('meets every goal of the issue on a run that does', () => {
    const goals = checkGoals({ concurrency: [1, 8, 32], summaries: map(passing()), idleRssMiB: 60 });
    expect(goals.map((g) => [g.goal, g.met])).toEqual([
      ['toolgate CPU per tools/call, (d), 1 client', true],
      ['toolgate CPU per tools/call, (d), 8 clients', true],
      ['toolgate CPU per tools/call, (d), 32 clients', true],
      ['added latency p50, (d) vs (b), 1 client', true],
      ['added latency p99, (d) vs (b), 1 client', true],
      ['throughput, (d) / (b), 32 clients', true],
      ['toolgate RSS, steady under load (largest after any (c)/(d)/(e) round)', true],
      ['toolgate RSS, idle (after start-up, before any request)', true],
      ['(e) 2026 header-only path cheaper than (d) on every figure, 1 client', true],
      ['(e) 2026 header-only path cheaper than (d) on every figure, 8 clients', true],
      ['(e) 2026 header-only path cheaper than (d) on every figure, 32 clients', true],
    ]);
  });

  it('allows 350 µs at 1 client but only 200 µs at 8 and 32', () => {
    const run = passing();
    run['d@1'] = { ...run['d@1']!, toolgate: 351 };
    run['d@8'] = { ...run['d@8']!, toolgate: 300 };
    run['d@32'] = { ...run['d@32']!, toolgate: 200 };
    const goals = checkGoals({ concurrency: [1, 8, 32], summaries: map(run), idleRssMiB: 60 });
    expect(find(goals, 'toolgate CPU per tools/call, (d), 1 client')).toMatchObject({ target: '≤ 350 µs', measured: "351 µs (3.5× Envoy alone's 100 µs)", met: false });
    expect(find(goals, 'toolgate CPU per tools/call, (d), 8 clients')).toMatchObject({ target: '≤ 200 µs', met: false });
    expect(find(goals, 'toolgate CPU per tools/call, (d), 32 clients')).toMatchObject({ met: true });
  });

  it('says how fast the machine was: the CPU figure against Envoy alone in the same run, or the figure alone without (b)', () => {
    const run = passing();
    run['b@8'] = { ...run['b@8']!, envoy: 40 };
    delete run['b@32'];
    const goals = checkGoals({ concurrency: [1, 8, 32], summaries: map(run), idleRssMiB: 60 });
    expect(find(goals, 'toolgate CPU per tools/call, (d), 8 clients')).toMatchObject({ measured: "190 µs (4.8× Envoy alone's 40 µs)", met: true });
    expect(find(goals, 'toolgate CPU per tools/call, (d), 32 clients')).toMatchObject({ measured: '190 µs', met: true });
  });

  it('reads added latency at 1 client and throughput at 32 clients, against (b) in the same run', () => {
    const run = passing();
    run['d@1'] = { ...run['d@1']!, p50: 1.01, p99: 3.01 };
    run['d@32'] = { ...run['d@32']!, rps: 999 };
    const goals = checkGoals({ concurrency: [1, 8, 32], summaries: map(run), idleRssMiB: 60 });
    expect(find(goals, 'added latency p50')).toMatchObject({ measured: '0.51 ms', met: false });
    expect(find(goals, 'added latency p99')).toMatchObject({ measured: '2.01 ms', met: false });
    expect(find(goals, 'throughput, (d) / (b), 32 clients')).toMatchObject({ measured: '0.50', met: false });
  });

  it('checks RSS under load (the largest after any sidecar round) and idle separately', () => {
    const run = passing();
    run['e@8'] = { ...run['e@8']!, rss: 101 };
    const goals = checkGoals({ concurrency: [1, 8, 32], summaries: map(run), idleRssMiB: 71 });
    expect(find(goals, 'toolgate RSS, steady under load')).toMatchObject({ measured: '101 MiB', met: false });
    expect(find(goals, 'toolgate RSS, idle')).toMatchObject({ measured: '71 MiB', met: false });
  });

  it('says "not measured" instead of passing or failing what the run did not cover', () => {
    const run = passing();
    for (const key of Object.keys(run)) if (key.endsWith('@32')) delete run[key];
    const goals = checkGoals({ concurrency: [1, 8], summaries: map(run), idleRssMiB: undefined });
    expect(find(goals, 'toolgate CPU per tools/call, (d), 32 clients')).toMatchObject({ met: null, measured: 'not measured (no (d) run at 32 clients)' });
    expect(find(goals, 'throughput, (d) / (b), 32 clients').met).toBeNull();
    expect(find(goals, 'toolgate RSS, idle').met).toBeNull();
    expect(goals.filter((g) => g.goal.startsWith('(e) 2026')).map((g) => g.goal)).toEqual([
      '(e) 2026 header-only path cheaper than (d) on every figure, 1 client',
      '(e) 2026 header-only path cheaper than (d) on every figure, 8 clients',
    ]);
  });
});

describe('cheaperGoal: (e) cheaper than (d) on every figure', () => {
  it('names each figure where (e) is not cheaper; equal is not cheaper', () => {
    const run = passing();
    run['e@8'] = { ...run['e@8']!, toolgate: 190, rps: 1000 };
    const goal = cheaperGoal(map(run), 8);
    expect(goal.met).toBe(false);
    expect(goal.measured).toBe('not cheaper: toolgate CPU µs/req (e) 190 vs (d) 190; throughput vs Envoy alone (e) 0.50 vs (d) 0.60');
  });

  it('compares added latency, each path against its own baseline', () => {
    const run = passing();
    // (e) is slower in absolute terms, but its baseline (e0) is slower still: it adds less.
    run['e0@1'] = { ...run['e0@1']!, p50: 2, p99: 4 };
    run['e@1'] = { ...run['e@1']!, p50: 2.3, p99: 5 };
    expect(cheaperGoal(map(run), 1)).toMatchObject({ met: true, measured: 'all 5 cheaper' });
  });

  it('is not measured without (e0)', () => {
    const run = passing();
    delete run['e0@1'];
    expect(cheaperGoal(map(run), 1).met).toBeNull();
  });
});

describe('added cost against the native floor (g)', () => {
  const run = (g: Shape) => map({ 'b@1': { p50: 0.5, p99: 1, rps: 2000, envoy: 100 }, 'd@1': { p50: 1.7, p99: 4, rps: 800, envoy: 300, toolgate: 500 }, 'g@1': g });

  it("divides (d)'s latency and proxy CPU over (b) by (g)'s", () => {
    const v = addedVsNative(run({ p50: 0.6, p99: 1.5, rps: 1800, envoy: 140 }), 'd', 1);
    expect(v).toEqual({
      path: 'd',
      added_p50_ms: { path: 1.2, native: 0.1 },
      added_p50_ratio: 12,
      added_p99_ms: { path: 3, native: 0.5 },
      added_p99_ratio: 6,
      // (300 + 500) − 100 against 140 − 100.
      added_cpu_us_per_request: { path: 700, native: 40 },
      added_cpu_ratio: 17.5,
      throughput_vs_b: { path: 0.4, native: 0.9 },
    });
  });

  it('gives no multiple when (g) measured no cost over (b)', () => {
    const v = addedVsNative(run({ p50: 0.4, p99: 1, rps: 2100, envoy: 100 }), 'd', 1);
    expect(v?.added_p50_ratio).toBeNull();
    expect(v?.added_p99_ratio).toBeNull();
    expect(v?.added_cpu_ratio).toBeNull();
  });

  it('is undefined unless (b), (g) and the path all ran at that concurrency', () => {
    expect(addedVsNative(run({ p50: 0.6, p99: 1.5, rps: 1800, envoy: 140 }), 'f', 1)).toBeUndefined();
    expect(addedVsNative(run({ p50: 0.6, p99: 1.5, rps: 1800, envoy: 140 }), 'd', 8)).toBeUndefined();
  });

  it('costRatio refuses a zero, negative or non-finite denominator', () => {
    expect(costRatio(3, 1.5)).toBe(2);
    expect(costRatio(3, 0)).toBeNull();
    expect(costRatio(3, -1)).toBeNull();
    expect(costRatio(Number.NaN, 1)).toBeNull();
  });
});

describe('scenarioFigures', () => {
  it('keeps toolgate figures null for a path without toolgate', () => {
    const f = scenarioFigures(summary({ p50: 0.5, p99: 1, rps: 2000, envoy: 100 }));
    expect(f).toMatchObject({ p50_ms: 0.5, p99_ms: 1, req_per_s: 2000, failed: 0, toolgate_cpu_us_per_request: null, toolgate_rss_mib: null, envoy_cpu_us_per_request: 100 });
  });
});
