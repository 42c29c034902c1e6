// Turns the measured rounds into bench/results.json, the chart, and the Markdown tables (bench/results.md, and the
// marked sections of docs/benchmark.md on a full run).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { writeChart, type ChartScenario } from './chart.js';
import { addedVsNative, compareTo, scenarioFigures, type AddedVsNative, type Comparison, type ScenarioFigures } from './figures.js';
import { checkGoals, type Goal } from './goals.js';
import type { Measured } from './main.js';
import type { ProfileSummary } from './profile.js';
import { SCENARIOS, type Scenario, type ScenarioKey } from './scenarios.js';
import { aggregate, type ScenarioSummary } from './stats.js';
import { commitLabel } from './tree.js';

interface ScenarioResult {
  readonly key: ScenarioKey;
  readonly id: string;
  readonly title: string;
  readonly envoy: string;
  /** Which toolgate the path runs through: sidecar, gateway, or none. */
  readonly toolgate: string;
  readonly backend: string;
  readonly tools: readonly string[];
  readonly protocol: string;
  readonly by_concurrency: Record<string, ScenarioSummary & { readonly vs_baseline?: Comparison }>;
}

const round = (v: number, d = 3) => (Number.isFinite(v) ? Number(v.toFixed(d)) : v);

export function writeReport(repoRoot: string, m: Measured, envoyVersion: string): string[] {
  const concurrency = m.settings.concurrency;
  const summaries = new Map<string, ScenarioSummary>();
  for (const s of m.settings.scenarios) {
    for (const c of concurrency) summaries.set(`${s.key}@${c}`, aggregate(m.rounds.get(`${s.id}@${c}`) ?? []));
  }
  const compare = (s: Scenario, c: number): Comparison | undefined => compareTo(summaries, s.key, s.baseline, c);
  const scenarios: ScenarioResult[] = m.settings.scenarios.map((s) => ({
    key: s.key,
    id: s.id,
    title: s.title,
    envoy: s.envoy ?? 'none',
    toolgate: s.toolgate ?? 'none',
    backend: BACKEND_TEXT[s.backend],
    protocol: s.protocol,
    tools: s.tools,
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
  const gateway = SCENARIOS.find((s) => s.key === 'f') as Scenario;
  const fullVs = Object.fromEntries(concurrency.map((c) => [String(c), compare(full, c)]));
  const micro = readMicro(repoRoot);
  const goals = checkGoals({ concurrency, summaries, idleRssMiB: m.toolgateIdleRssMiB.sidecar });
  const byConcurrency = <T>(f: (c: number) => T | undefined) => Object.fromEntries(concurrency.map((c) => [String(c), f(c) ?? null]));
  const perScenario: Record<string, Record<string, ScenarioFigures>> = Object.fromEntries(m.settings.scenarios.map((s) => [
    s.id,
    Object.fromEntries(concurrency.flatMap((c) => {
      const sum = summaries.get(`${s.key}@${c}`);
      return sum ? [[String(c), scenarioFigures(sum)]] : [];
    })),
  ]));
  const vsNative = (key: ScenarioKey) => byConcurrency((c) => addedVsNative(summaries, key, c));
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
    toolgate_idle_rss_mib: round(m.toolgateIdleRssMiB.sidecar, 1),
    toolgate_gateway_idle_rss_mib: m.toolgateIdleRssMiB.gateway === undefined ? null : round(m.toolgateIdleRssMiB.gateway, 1),
    commit: m.tree.commit,
    tree_dirty: m.tree.dirty ?? null,
    tree_dirty_paths: m.tree.dirtyPaths,
    full_path_vs_envoy_by_concurrency: fullVs,
    fast_path_2026_vs_envoy_by_concurrency: Object.fromEntries(concurrency.map((c) => [String(c), compare(fast, c)])),
    gateway_vs_envoy_by_concurrency: byConcurrency((c) => compare(gateway, c)),
    /** (d) over (b) as a multiple of (g) over (b): latency, and proxy-side CPU (Envoy + toolgate) per request. */
    added_cost_vs_native_floor: vsNative('d'),
    gateway_added_cost_vs_native_floor: vsNative('f'),
    native_floor_check: m.nativeCheck?.summary ?? null,
    per_scenario: perScenario,
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
    toolgateCpu: s.toolgate
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

  const loadTable = markdownLoadTable(m.settings.scenarios, concurrency, summaries, compare, results.machine) +
    markdownVsNative(concurrency, (key, c) => addedVsNative(summaries, key, c), m.nativeCheck?.summary);
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

const BACKEND_TEXT: Record<Scenario['backend'], string> = {
  '2025': 'harness MCP SDK server, stateful, JSON responses',
  '2026': '2026 stand-in (MCP SDK, one internal session)',
  gateway: 'two harness MCP SDK servers (billing, inventory), stateful, JSON responses',
};

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
    f: '(f) gateway,\n2 backends',
    g: '(g) Envoy MCP\n+ RBAC (native)',
  };
  return labels[s.key];
}

function machineInfo(m: Measured, envoyVersion: string) {
  const cpu = cpus();
  const perRound = [...m.rounds.values()].flat().map((r) => r.loadAvg1);
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memory_gib: round(totalmem() / 2 ** 30, 1),
    kernel: release(),
    node: process.versions.node,
    envoy: envoyVersion,
    commit: m.tree.commit,
    /** true: the tree had uncommitted changes (besides the run's outputs) when the run started. */
    tree_dirty: m.tree.dirty ?? null,
    commit_label: commitLabel(m.tree),
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
    `Measured ${machine.cpu.replace(/\s+/g, ' ')} ×${machine.cores}, Node ${machine.node}, Envoy ${machine.envoy}, ${machine.commit_label}; ` +
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
      const uses = s.toolgate !== undefined;
      const failed = sum.errors ? `${sum.errors} (${((100 * sum.errors) / sum.requests).toFixed(2)} %)` : '0';
      lines.push(`| (${s.key}) ${s.title} | ${c} | ${f2(sum.latencyMs.p50)} | ${f2(sum.latencyMs.p99)} | ${f0(sum.throughputRps)} | ${failed} | ` +
        `${uses ? f0(sum.cpuUsPerRequest.toolgate) : '–'} | ${uses ? f0(sum.rssMiB.toolgate) : '–'} | ${f0(sum.cpuUsPerRequest.envoy)} | ${f0(sum.cpuUsPerRequest.backend)} | ${f0(sum.cpuUsPerRequest.client)} | ` +
        `${vs ? `${signed(vs.added_p50_ms)} / ${signed(vs.added_p99_ms)} (vs ${vs.baseline})` : '–'} | ${vs ? `${(vs.throughput_ratio * 100).toFixed(0)} %` : '–'} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** toolgate's added cost over Envoy alone as a multiple of the native floor's (g), for (d) and (f). */
function markdownVsNative(concurrency: readonly number[], vs: (key: ScenarioKey, c: number) => AddedVsNative | undefined, check: string | undefined): string {
  const rows = (['d', 'f'] as const).flatMap((key) => concurrency.flatMap((c) => {
    const v = vs(key, c);
    return v ? [[key, c, v] as const] : [];
  }));
  if (rows.length === 0) return '';
  const x = (r: number | null) => (r === null ? '– ((g) added nothing measurable)' : `${r.toFixed(1)}×`);
  return [
    '',
    `**Against the native floor (g)** — added over (b), the path's and (g)'s, and the multiple; CPU is Envoy + toolgate per request over (b)'s Envoy.${check ? ` (g) check: ${check}.` : ''}`,
    '',
    '| path | clients | added p50 ms, path / (g) | × | added p99 ms, path / (g) | × | added CPU µs/req, path / (g) | × | throughput vs (b), path / (g) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(([key, c, v]) => `| (${key}) | ${c} | ${signed(v.added_p50_ms.path)} / ${signed(v.added_p50_ms.native)} | ${x(v.added_p50_ratio)} | ` +
      `${signed(v.added_p99_ms.path)} / ${signed(v.added_p99_ms.native)} | ${x(v.added_p99_ratio)} | ` +
      `${v.added_cpu_us_per_request.path.toFixed(0)} / ${v.added_cpu_us_per_request.native.toFixed(0)} | ${x(v.added_cpu_ratio)} | ` +
      `${(v.throughput_vs_b.path * 100).toFixed(0)} % / ${(v.throughput_vs_b.native * 100).toFixed(0)} % |`),
  ].join('\n') + '\n';
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
