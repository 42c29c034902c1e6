// Turns the measured rounds into bench/results.json, the chart, and the Markdown tables (bench/results.md, and the
// marked sections of docs/benchmark.md on a full run).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { writeChart, type ChartScenario } from './chart.js';
import type { Measured } from './main.js';
import type { ProfileSummary } from './profile.js';
import { SCENARIOS, type Scenario, type ScenarioKey } from './scenarios.js';
import { aggregate, type ScenarioSummary } from './stats.js';

export interface Comparison {
  readonly baseline: ScenarioKey;
  readonly added_p50_ms: number;
  readonly added_p99_ms: number;
  readonly p50_ratio: number;
  readonly p99_ratio: number;
  readonly throughput_ratio: number;
}

interface ScenarioResult {
  readonly key: ScenarioKey;
  readonly id: string;
  readonly title: string;
  readonly envoy: string;
  readonly backend: string;
  readonly protocol: string;
  readonly by_concurrency: Record<string, ScenarioSummary & { readonly vs_baseline?: Comparison }>;
}

/** Goals from the project brief, checked against what was measured. */
interface Goal {
  readonly goal: string;
  readonly target: string;
  readonly measured: string;
  readonly met: boolean | null;
}

const round = (v: number, d = 3) => (Number.isFinite(v) ? Number(v.toFixed(d)) : v);

export function writeReport(repoRoot: string, m: Measured, envoyVersion: string): string[] {
  const concurrency = m.settings.concurrency;
  const summaries = new Map<string, ScenarioSummary>();
  for (const s of m.settings.scenarios) {
    for (const c of concurrency) summaries.set(`${s.key}@${c}`, aggregate(m.rounds.get(`${s.id}@${c}`) ?? []));
  }
  const compare = (s: Scenario, c: number): Comparison | undefined => {
    const mine = summaries.get(`${s.key}@${c}`);
    const base = s.baseline && summaries.get(`${s.baseline}@${c}`);
    if (!mine || !base || !s.baseline) return undefined;
    return {
      baseline: s.baseline,
      added_p50_ms: round(mine.latencyMs.p50 - base.latencyMs.p50),
      added_p99_ms: round(mine.latencyMs.p99 - base.latencyMs.p99),
      p50_ratio: round(mine.latencyMs.p50 / base.latencyMs.p50),
      p99_ratio: round(mine.latencyMs.p99 / base.latencyMs.p99),
      throughput_ratio: round(mine.throughputRps / base.throughputRps),
    };
  };
  const scenarios: ScenarioResult[] = m.settings.scenarios.map((s) => ({
    key: s.key,
    id: s.id,
    title: s.title,
    envoy: s.envoy ?? 'none',
    backend: s.backend === '2025' ? 'harness MCP SDK server, stateful, JSON responses' : '2026 stand-in (MCP SDK, one internal session)',
    protocol: s.protocol,
    by_concurrency: Object.fromEntries(concurrency.map((c) => {
      const summary = summaries.get(`${s.key}@${c}`) as ScenarioSummary;
      const vs = compare(s, c);
      return [String(c), { ...roundSummary(summary), ...(vs ? { vs_baseline: vs } : {}) }];
    })),
  }));

  // Latency is compared where nothing queues (the fewest clients: "moderate load"); throughput where the machine
  // is saturated (the most clients). CPU per request is reported for the worst concurrency.
  const latencyAt = Math.min(...concurrency);
  const throughputAt = Math.max(...concurrency);
  const full = SCENARIOS.find((s) => s.key === 'd') as Scenario;
  const fast = SCENARIOS.find((s) => s.key === 'e') as Scenario;
  const fullVs = Object.fromEntries(concurrency.map((c) => [String(c), compare(full, c)]));
  const micro = readMicro(repoRoot);
  const goals = checkGoals(concurrency, summaries, fullVs, micro, latencyAt, throughputAt);
  const rssMiB = (key: string) => Math.max(...concurrency.map((c) => summaries.get(`${key}@${c}`)?.rssMiB.toolgate ?? 0));
  const cpuOf = (c: number) => summaries.get(`d@${c}`)?.cpuUsPerRequest.toolgate ?? NaN;

  const results = {
    generated: m.startedAt.toISOString(),
    mode: m.settings.quick ? 'quick' : 'full',
    latency_concurrency: latencyAt,
    throughput_concurrency: throughputAt,
    added_p50_ms: fullVs[String(latencyAt)]?.added_p50_ms ?? null,
    added_p99_ms: fullVs[String(latencyAt)]?.added_p99_ms ?? null,
    throughput_ratio: fullVs[String(throughputAt)]?.throughput_ratio ?? null,
    toolgate_cpu_us_per_request: round(Math.max(...concurrency.map(cpuOf)), 1),
    toolgate_cpu_us_per_request_by_concurrency: Object.fromEntries(concurrency.map((c) => [String(c), round(cpuOf(c), 1)])),
    toolgate_rss_mib: round(rssMiB('d'), 1),
    full_path_vs_envoy_by_concurrency: fullVs,
    fast_path_2026_vs_envoy_by_concurrency: Object.fromEntries(concurrency.map((c) => [String(c), compare(fast, c)])),
    goals,
    machine: machineInfo(m, envoyVersion),
    settings: {
      rounds: m.settings.rounds,
      round_seconds: m.settings.durationMs / 1000,
      warmup_seconds: m.settings.warmupMs / 1000,
      concurrency,
      envoy_concurrency: m.settings.envoyConcurrency,
      order: 'interleaved round-robin; each round starts one target further along',
      client: 'undici Pool per target (keep-alive, one connection per client), closed loop, prepared JSON-RPC bodies; separate process',
      toolgate: 'built CLI (node bin/toolgate.js serve) as a child process; log level info (one audit record per decision, to /dev/null); tracing off',
      workload: 'tools/call "echo" with a 33-character text argument; 2025: one session per client, opened before measuring',
      backend_2026: 'MCP SDK 1.32 answers 2026-07-28 with 400, so the 2026 scenarios use a stand-in SDK server that maps every 2026 request onto one internal session (same SDK work per call) and enforces the Mcp-Method/Mcp-Name rule',
      toolgate_idle_rss_mib: round(m.toolgateIdleRssMiB, 1),
    },
    scenarios,
    profile: m.profile ? roundProfile(m.profile, repoRoot) : null,
    micro: micro ?? null,
  };

  const out = m.settings.outDir;
  const written: string[] = [];
  writeFileSync(join(out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  written.push(join(out, 'results.json'));
  const chartScenarios: ChartScenario[] = m.settings.scenarios.map((s) => ({
    label: chartLabel(s),
    p50: new Map(concurrency.map((c) => [c, summaries.get(`${s.key}@${c}`)?.latencyMs.p50 ?? 0])),
    p99: new Map(concurrency.map((c) => [c, summaries.get(`${s.key}@${c}`)?.latencyMs.p99 ?? 0])),
    rps: new Map(concurrency.map((c) => [c, summaries.get(`${s.key}@${c}`)?.throughputRps ?? 0])),
    toolgateCpu: s.envoy === 'authz' || s.envoy === 'full'
      ? new Map(concurrency.map((c) => [c, summaries.get(`${s.key}@${c}`)?.cpuUsPerRequest.toolgate ?? 0]))
      : undefined,
  }));
  written.push(...writeChart({
    title: CHART_TITLE,
    subtitle: chartSubtitle(results.machine.cpu, results.machine.cores, envoyVersion, m.settings.envoyConcurrency, process.versions.node,
      m.settings.rounds, m.settings.durationMs / 1000, m.loadAvgStart[0], m.loadAvgEnd[0]),
    concurrency,
    scenarios: chartScenarios,
  }, join(out, 'results.svg'), join(out, 'results.png')));

  const loadTable = markdownLoadTable(m.settings.scenarios, concurrency, summaries, compare, results.machine);
  const goalTable = markdownGoals(goals);
  const profileTables = m.profile ? markdownProfile(m.profile) : '_No profile in this run._\n';
  writeFileSync(join(out, 'results.md'), `${loadTable}\n${goalTable}\n${profileTables}`);
  written.push(join(out, 'results.md'));
  if (m.settings.updateDocs) {
    const doc = join(repoRoot, 'docs', 'benchmark.md');
    if (existsSync(doc)) {
      let text = readFileSync(doc, 'utf8');
      text = replaceSection(text, 'load', loadTable);
      text = replaceSection(text, 'goals', goalTable);
      text = replaceSection(text, 'profile', profileTables);
      writeFileSync(doc, text);
      written.push(`${doc} (tables between the bench:* markers)`);
    }
  }
  return written.map((w) => `wrote ${w}`);
}

function roundSummary(s: ScenarioSummary): ScenarioSummary {
  const r = (o: Readonly<Record<string, number>>, d: number) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v, d)]));
  return {
    ...s,
    latencyMs: { ...s.latencyMs, ...(r(s.latencyMs as unknown as Record<string, number>, 3) as unknown as ScenarioSummary['latencyMs']), count: s.latencyMs.count },
    throughputRps: round(s.throughputRps, 1),
    throughputRoundsRps: { min: round(s.throughputRoundsRps.min, 1), max: round(s.throughputRoundsRps.max, 1) },
    cpuUsPerRequest: r(s.cpuUsPerRequest, 1),
    rssMiB: r(s.rssMiB, 1),
  };
}

function roundProfile(p: ProfileSummary, repoRoot: string) {
  const rows = (list: ProfileSummary['topSelf']) => list.map((row) => ({ ...row, ms: round(row.ms, 1), pct: round(row.pct, 1) }));
  return {
    ...p,
    windowMs: round(p.windowMs, 0),
    busyMs: round(p.busyMs, 0),
    idleMs: round(p.idleMs, 0),
    busyUsPerRequest: round(p.busyUsPerRequest, 1),
    topSelf: rows(p.topSelf),
    byPackage: rows(p.byPackage),
    toolgateInclusive: rows(p.toolgateInclusive),
    file: p.file.startsWith(repoRoot) ? p.file.slice(repoRoot.length + 1) : p.file,
  };
}

export const CHART_TITLE = 'toolgate: MCP tools/call through Envoy, with and without toolgate';

export function chartSubtitle(cpu: string, cores: number, envoy: string, envoyConcurrency: number, node: string, rounds: number, roundSeconds: number,
  loadStart: number | undefined, loadEnd: number | undefined): string {
  return `${cpu.replace(/\s+/g, ' ')} ×${cores}, Envoy ${envoy} (--concurrency ${envoyConcurrency}), Node ${node}; ${rounds} × ${roundSeconds} s interleaved rounds; ` +
    `load average ${loadStart?.toFixed(1)} → ${loadEnd?.toFixed(1)}${loadStart !== undefined && loadStart > cores / 2 ? ' (shared machine)' : ''}`;
}

export function chartLabel(s: Scenario): string {
  const labels: Record<ScenarioKey, string> = {
    a: '(a) direct',
    b: '(b) Envoy\nalone',
    c: '(c) Envoy\n+ ext_authz',
    d: '(d) both\nfilters, 2025',
    e0: '(e0) Envoy\nalone, 2026',
    e: '(e) both, 2026\nfast path',
  };
  return labels[s.key];
}

function machineInfo(m: Measured, envoyVersion: string) {
  const cpu = cpus();
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  const perRound = [...m.rounds.values()].flat().map((r) => r.loadAvg1);
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memory_gib: round(totalmem() / 2 ** 30, 1),
    kernel: release(),
    node: process.versions.node,
    envoy: envoyVersion,
    commit,
    load_average_start: m.loadAvgStart.map((v) => round(v, 2)),
    load_average_end: m.loadAvgEnd.map((v) => round(v, 2)),
    load_average_1m_during_rounds: { min: round(Math.min(...perRound), 2), max: round(Math.max(...perRound), 2) },
    wall_seconds: round(m.wallSeconds, 1),
    note: m.loadAvgStart[0] !== undefined && m.loadAvgStart[0] > cpu.length * 0.5
      ? 'the machine was shared with other work, so absolute numbers are noisy and ratios less so'
      : 'a quiet machine',
  };
}

interface MicroResult { readonly name: string; readonly usPerOp: number; readonly p99Us?: number }

/** bench/micro-results.json, written by `npm run bench:micro`, when present. */
function readMicro(repoRoot: string): MicroResult[] | undefined {
  const file = join(repoRoot, 'bench', 'micro-results.json');
  if (!existsSync(file)) return undefined;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { results: MicroResult[] }).results;
  } catch {
    return undefined;
  }
}

function checkGoals(
  concurrency: readonly number[],
  summaries: Map<string, ScenarioSummary>,
  fullVs: Record<string, Comparison | undefined>,
  micro: MicroResult[] | undefined,
  latencyAt: number,
  throughputAt: number,
): Goal[] {
  const goals: Goal[] = [];
  const clients = (c: number) => `${c} client${c === 1 ? '' : 's'}`;
  for (const c of concurrency) {
    const vs = fullVs[String(c)];
    if (!vs) continue;
    const tag = c === latencyAt ? ' **(headline: nothing queues)**' : '';
    goals.push({ goal: `added latency p50, (d) vs (b), ${clients(c)}${tag}`, target: '≤ 0.5 ms', measured: `${vs.added_p50_ms.toFixed(2)} ms`, met: vs.added_p50_ms <= 0.5 });
    goals.push({ goal: `added latency p99, (d) vs (b), ${clients(c)}${tag}`, target: '≤ 2 ms', measured: `${vs.added_p99_ms.toFixed(2)} ms`, met: vs.added_p99_ms <= 2 });
  }
  for (const c of concurrency) {
    const vs = fullVs[String(c)];
    if (!vs) continue;
    const tag = c === throughputAt ? ' **(headline: saturated)**' : '';
    goals.push({ goal: `throughput with both filters, (d) / (b), ${clients(c)}${tag}`, target: '≥ 50 %', measured: `${(vs.throughput_ratio * 100).toFixed(0)} %`, met: vs.throughput_ratio >= 0.5 });
  }
  for (const key of ['d', 'e'] as const) {
    const cpu = concurrency.flatMap((c) => {
      const v = summaries.get(`${key}@${c}`)?.cpuUsPerRequest.toolgate;
      return v === undefined ? [] : [[c, v] as const];
    });
    if (cpu.length === 0) continue;
    // Per request, toolgate spends the most when requests arrive one at a time (nothing to batch per wake-up).
    const worst = Math.max(...cpu.map(([, v]) => v));
    goals.push({
      goal: `toolgate CPU per tools/call, (${key}), every concurrency`,
      target: '≤ 200 µs',
      measured: cpu.map(([c, v]) => `${v.toFixed(0)} µs (${clients(c)})`).join(', '),
      met: worst <= 200,
    });
  }
  const token = micro?.find((r) => r.name === 'sealSession + openSession');
  goals.push(token
    ? { goal: 'session token encode + decode (micro, 5 backends, mean)', target: '≤ 50 µs', measured: `${token.usPerOp.toFixed(1)} µs`, met: token.usPerOp <= 50 }
    : { goal: 'session token encode + decode (micro)', target: '≤ 50 µs', measured: 'run `npm run bench:micro`', met: null });
  return goals;
}

const f2 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(2));
const f0 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(0));

function markdownLoadTable(
  scenarios: readonly Scenario[],
  concurrency: readonly number[],
  summaries: Map<string, ScenarioSummary>,
  compare: (s: Scenario, c: number) => Comparison | undefined,
  machine: ReturnType<typeof machineInfo>,
): string {
  const lines = [
    `Measured ${machine.cpu.replace(/\s+/g, ' ')} ×${machine.cores}, Node ${machine.node}, Envoy ${machine.envoy}, commit ${machine.commit}; ` +
      `load average ${machine.load_average_start[0]} at start, ${machine.load_average_1m_during_rounds.min}–${machine.load_average_1m_during_rounds.max} during the rounds: ${machine.note}. ` +
      '"failed": requests answered with anything but the tool result (`firstError` in results.json shows the first one).',
    '',
    '| scenario | clients | p50 ms | p99 ms | req/s | failed | toolgate CPU µs/req | toolgate RSS MiB | Envoy CPU µs/req | backend CPU µs/req | client CPU µs/req | added p50 / p99 ms | throughput vs Envoy alone |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of scenarios) {
    for (const c of concurrency) {
      const sum = summaries.get(`${s.key}@${c}`);
      if (!sum) continue;
      const vs = compare(s, c);
      const uses = s.envoy === 'authz' || s.envoy === 'full';
      const failed = sum.errors ? `${sum.errors} (${((100 * sum.errors) / sum.requests).toFixed(2)} %)` : '0';
      lines.push(`| (${s.key}) ${s.title} | ${c} | ${f2(sum.latencyMs.p50)} | ${f2(sum.latencyMs.p99)} | ${f0(sum.throughputRps)} | ${failed} | ` +
        `${uses ? f0(sum.cpuUsPerRequest.toolgate) : '–'} | ${uses ? f0(sum.rssMiB.toolgate) : '–'} | ${f0(sum.cpuUsPerRequest.envoy)} | ${f0(sum.cpuUsPerRequest.backend)} | ${f0(sum.cpuUsPerRequest.client)} | ` +
        `${vs ? `${signed(vs.added_p50_ms)} / ${signed(vs.added_p99_ms)} (vs ${vs.baseline})` : '–'} | ${vs ? `${(vs.throughput_ratio * 100).toFixed(0)} %` : '–'} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function signed(v: number): string {
  return `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;
}

function markdownGoals(goals: readonly Goal[]): string {
  const mark = (met: boolean | null) => (met === null ? '–' : met ? '✅ met' : '❌ not met');
  return ['| goal | target | measured | |', '|---|---|---:|---|', ...goals.map((g) => `| ${g.goal} | ${g.target} | ${g.measured} | ${mark(g.met)} |`)].join('\n') + '\n';
}

function markdownProfile(p: ProfileSummary): string {
  const lines = [
    `Window ${(p.windowMs / 1000).toFixed(1)} s, ${p.requests} requests, ${p.samples} samples every ${p.sampleIntervalUs} µs; toolgate busy ${p.busyMs.toFixed(0)} ms ` +
      `(${p.busyUsPerRequest.toFixed(0)} µs per request with the profiler on), idle ${p.idleMs.toFixed(0)} ms.`,
    '',
    '**Top self time** (share of busy time):',
    '',
    '| function | where | self ms | % |',
    '|---|---|---:|---:|',
    ...p.topSelf.slice(0, 20).map((r) => `| \`${r.name}\` | ${r.where || '–'} | ${r.ms.toFixed(0)} | ${r.pct.toFixed(1)} |`),
    '',
    '**By package** (self time):',
    '',
    '| package | ms | % |',
    '|---|---:|---:|',
    ...p.byPackage.map((r) => `| ${r.name} | ${r.ms.toFixed(0)} | ${r.pct.toFixed(1)} |`),
    '',
    '**By nearest toolgate function** (its own time plus the library calls it makes):',
    '',
    '| toolgate function | where | ms | % |',
    '|---|---|---:|---:|',
    ...p.toolgateInclusive.map((r) => `| \`${r.name}\` | ${r.where || '–'} | ${r.ms.toFixed(0)} | ${r.pct.toFixed(1)} |`),
  ];
  return `${lines.join('\n')}\n`;
}

function replaceSection(text: string, name: string, body: string): string {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i === -1 || j === -1 || j < i) return text;
  return `${text.slice(0, i + start.length)}\n${body}${text.slice(j)}`;
}
