// Redraws the chart from a results.json without re-running the benchmark:
//   node --import tsx bench/load/rechart.ts [bench/results.json]
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeChart, type ChartScenario } from './chart.js';
import { chartLabel, chartSubtitle, CHART_TITLE } from './report.js';
import { SCENARIOS } from './scenarios.js';

interface Stored {
  settings: { concurrency: number[]; rounds: number; round_seconds: number; envoy_concurrency: number };
  machine: { cpu: string; cores: number; envoy: string; node: string; load_average_start: number[]; load_average_end: number[] };
  scenarios: Array<{ key: string; envoy: string; toolgate?: string; by_concurrency: Record<string, { latencyMs: { p50: number; p99: number }; throughputRps: number; cpuUsPerRequest: Record<string, number> }> }>;
}

const file = resolve(process.argv[2] ?? 'bench/results.json');
const results = JSON.parse(readFileSync(file, 'utf8')) as Stored;
const { concurrency } = results.settings;
const pick = (by: Stored['scenarios'][number]['by_concurrency'], get: (s: Stored['scenarios'][number]['by_concurrency'][string]) => number) =>
  new Map(concurrency.map((c) => [c, by[String(c)] ? get(by[String(c)] as never) : 0]));
const scenarios: ChartScenario[] = results.scenarios.map((s) => {
  const known = SCENARIOS.find((k) => k.key === s.key);
  if (!known) throw new Error(`${file}: unknown scenario ${s.key}`);
  return {
    label: chartLabel(known),
    p50: pick(s.by_concurrency, (x) => x.latencyMs.p50),
    p99: pick(s.by_concurrency, (x) => x.latencyMs.p99),
    rps: pick(s.by_concurrency, (x) => x.throughputRps),
    // Results written before (f) and (g) existed have no `toolgate` field: there, authz and full meant toolgate.
    toolgateCpu: (s.toolgate ? s.toolgate !== 'none' : s.envoy === 'authz' || s.envoy === 'full') ? pick(s.by_concurrency, (x) => x.cpuUsPerRequest.toolgate ?? 0) : undefined,
  };
});
const m = results.machine;
const dir = dirname(file);
const written = writeChart({
  title: CHART_TITLE,
  subtitle: chartSubtitle(m.cpu, m.cores, m.envoy, results.settings.envoy_concurrency, m.node, results.settings.rounds, results.settings.round_seconds, m.load_average_start[0], m.load_average_end[0]),
  concurrency,
  scenarios,
}, join(dir, 'results.svg'), join(dir, 'results.png'));
for (const w of written) process.stderr.write(`wrote ${w}\n`);
