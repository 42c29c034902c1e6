// deploy/observability: the alert rules and the Grafana dashboard parse, and use only series toolgate's /metrics exposes.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/ports/telemetry/metrics.js';

const dir = fileURLToPath(new URL('../../deploy/observability/', import.meta.url));
const alerts = parse(readFileSync(`${dir}alerts.yaml`, 'utf8')) as { groups: Array<{ name: string; rules: Array<Record<string, any>> }> };
const dashboard = JSON.parse(readFileSync(`${dir}grafana-dashboard.json`, 'utf8')) as Record<string, any>;

/** The registry serve() exposes: toolgate's series and the process ones. */
const { registry } = createMetrics({ process: true });

/** Series Prometheus makes itself for every scrape target. */
const SCRAPE_SERIES = new Set(['up']);

/** Every series name /metrics can expose: histograms as their _bucket, _sum and _count. */
async function exposedNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const metric of await registry.getMetricsAsJSON()) {
    // prom-client types `type` as a numeric enum, but the JSON carries the Prometheus type name.
    if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
    else names.add(metric.name);
  }
  return names;
}

/** Metric names in a PromQL expression: identifiers that are not functions, keywords, label names or durations. */
function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const withoutMatchers = withoutStrings.replace(/\{[^}]*\}/g, '{}').replace(/\[[^\]]*\]/g, '');
  const withoutGrouping = withoutMatchers.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names: string[] = [];
  for (const m of withoutGrouping.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)) {
    const word = m[1] as string;
    if (['and', 'or', 'unless', 'bool', 'offset', 'le', 'inf', 'nan'].includes(word.toLowerCase())) continue;
    if (/^\d/.test(word) || /^\$/.test(word)) continue;
    names.push(word);
  }
  return names;
}

function dashboardExprs(): string[] {
  const out: string[] = [];
  const visit = (panels: any[]) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) if (typeof t.expr === 'string') out.push(t.expr);
      visit(p.panels);
    }
  };
  visit(dashboard.panels);
  for (const v of dashboard.templating?.list ?? []) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    const series = typeof q === 'string' ? /label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(q)?.[1] : undefined;
    if (series) out.push(series);
  }
  return out;
}

describe('deploy/observability/alerts.yaml', () => {
  const rules = alerts.groups.flatMap((g) => g.rules);

  it('is a Prometheus rule file with the expected alerts', () => {
    expect(alerts.groups.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(rule).toMatchObject({ alert: expect.any(String), expr: expect.any(String), labels: { severity: expect.stringMatching(/^(critical|warning|info)$/) } });
      expect(rule.annotations?.summary).toEqual(expect.any(String));
      if (rule.for !== undefined) expect(rule.for).toMatch(/^\d+[smh]$/);
    }
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining(['ToolgateDown', 'ToolgateHighDenyRate', 'ToolgateStoreErrors', 'ToolgateCheckLatencyHigh']));
  });

  it('uses only series that /metrics exposes', async () => {
    const exposed = await exposedNames();
    const used = rules.flatMap((r) => metricNames(r.expr as string));
    expect(used).toEqual(expect.arrayContaining(['toolgate_decisions_total', 'toolgate_store_errors_total', 'toolgate_check_duration_seconds_bucket', 'up']));
    expect(used.filter((n) => !exposed.has(n) && !SCRAPE_SERIES.has(n))).toEqual([]);
  });
});

describe('deploy/observability/grafana-dashboard.json', () => {
  it('is a Grafana dashboard with Prometheus panels', () => {
    expect(dashboard).toMatchObject({ title: expect.any(String), uid: expect.any(String), schemaVersion: expect.any(Number), panels: expect.any(Array) });
    const ids = (dashboard.panels as Array<{ id: number }>).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels as Array<Record<string, any>>) {
      expect(p.gridPos).toMatchObject({ h: expect.any(Number), w: expect.any(Number), x: expect.any(Number), y: expect.any(Number) });
      if (p.type !== 'row') expect(p.targets.length).toBeGreaterThan(0);
    }
  });

  it('uses only series that /metrics exposes, and charts every toolgate series', async () => {
    const exposed = await exposedNames();
    const used = new Set(dashboardExprs().flatMap(metricNames));
    expect([...used].filter((n) => !exposed.has(n) && !SCRAPE_SERIES.has(n))).toEqual([]);
    const families = (await registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => n.startsWith('toolgate_'));
    const charted = (family: string) => [...used].some((u) => u === family || u.startsWith(`${family}_`));
    expect(families.filter((f) => !charted(f))).toEqual([]);
  });
});

describe('metricNames', () => {
  it.each([
    ['sum by (instance) (rate(toolgate_decisions_total{result="deny"}[5m])) > 0.25', ['toolgate_decisions_total']],
    ['histogram_quantile(0.99, sum by (le) (rate(toolgate_check_duration_seconds_bucket[5m])))', ['toolgate_check_duration_seconds_bucket']],
    ['up{job="toolgate"} == 0', ['up']],
    ['a_total / on (instance) b_total and c', ['a_total', 'b_total', 'c']],
    ['rate(process_cpu_seconds_total{instance=~"$instance"}[$__rate_interval])', ['process_cpu_seconds_total']],
  ])('%s', (expr, names) => {
    expect(metricNames(expr)).toEqual(names);
  });
});
