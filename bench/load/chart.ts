// The results chart as a hand-written SVG (latency and throughput per scenario), converted to PNG with rsvg-convert
// (Debian: librsvg2-bin) when it is installed.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

export interface ChartScenario {
  readonly label: string;
  /** By concurrency. */
  readonly p50: ReadonlyMap<number, number>;
  readonly p99: ReadonlyMap<number, number>;
  readonly rps: ReadonlyMap<number, number>;
  /** toolgate CPU µs per request; absent for paths without toolgate. */
  readonly toolgateCpu: ReadonlyMap<number, number> | undefined;
}

export interface ChartInput {
  readonly title: string;
  readonly subtitle: string;
  readonly concurrency: readonly number[];
  readonly scenarios: readonly ChartScenario[];
}

const WIDTH = 1100;
const HEIGHT = 860;
/** One hue per panel, one shade per concurrency (darkest: fewest clients). */
const PALETTES = {
  blue: ['#1f4e8c', '#4f8fd6', '#a9cbef', '#d5e6f8'],
  red: ['#8f3422', '#c8553d', '#f2a488', '#f9d3c4'],
  green: ['#235c3b', '#3a8a5c', '#9fd3b2', '#d2ecdc'],
} as const;
type Palette = keyof typeof PALETTES;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Four panels, each on its own scale: p50, p99, throughput, toolgate CPU per request; one bar per concurrency. */
export function chartSvg(input: ChartInput): string {
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="24" y="34" font-size="20" font-weight="bold" fill="#222">${esc(input.title)}</text>`,
    `<text x="24" y="56" font-size="12" fill="#555">${esc(input.subtitle)}</text>`,
  ];
  const labels = input.scenarios.map((s) => s.label);
  const series = (pick: (s: ChartScenario) => ReadonlyMap<number, number> | undefined) =>
    input.concurrency.map((c) => ({ name: `${c} clients`, values: input.scenarios.map((s) => pick(s)?.get(c) ?? 0) }));
  const w = (WIDTH - 72) / 2;
  const h = (HEIGHT - 90) / 2;
  out.push(panel({ x: 24, y: 84, w, h }, 'p50 latency (ms, lower is better)', labels, series((s) => s.p50), 2, 'blue'));
  out.push(panel({ x: 48 + w, y: 84, w, h }, 'p99 latency (ms, lower is better)', labels, series((s) => s.p99), 1, 'blue'));
  out.push(panel({ x: 24, y: 84 + h, w, h }, 'Throughput (req/s, higher is better)', labels, series((s) => s.rps), 0, 'red'));
  out.push(panel({ x: 48 + w, y: 84 + h, w, h }, 'toolgate CPU per request (µs, lower is better)', labels, series((s) => s.toolgateCpu), 0, 'green'));
  out.push('</svg>');
  return out.join('\n');
}

interface Box { x: number; y: number; w: number; h: number }
interface Series { name: string; values: number[] }

function panel(box: Box, title: string, groups: string[], series: Series[], decimals: number, palette: Palette): string {
  const color = (i: number) => PALETTES[palette][i % PALETTES[palette].length];
  const parts: string[] = [`<text x="${box.x}" y="${box.y}" font-size="14" font-weight="bold" fill="#222">${esc(title)}</text>`];
  const plot = { x: box.x + 48, y: box.y + 40, w: box.w - 56, h: box.h - 40 - 62 };
  const max = niceMax(Math.max(1e-9, ...series.flatMap((s) => s.values)));
  const ticks = tickCount(max);
  // Grid and axis labels.
  for (let i = 0; i <= ticks; i++) {
    const v = (max * i) / ticks;
    const y = plot.y + plot.h - (plot.h * i) / ticks;
    parts.push(`<line x1="${plot.x}" y1="${y}" x2="${plot.x + plot.w}" y2="${y}" stroke="#e3e3e3"/>`);
    parts.push(`<text x="${plot.x - 6}" y="${y + 4}" font-size="11" fill="#555" text-anchor="end">${fmt(v, Number.isInteger(v) ? 0 : 1)}</text>`);
  }
  // Legend.
  series.forEach((s, i) => {
    const lx = box.x + 4 + i * 100;
    parts.push(`<rect x="${lx}" y="${box.y + 12}" width="12" height="12" fill="${color(i)}"/>`);
    parts.push(`<text x="${lx + 16}" y="${box.y + 22}" font-size="11" fill="#333">${esc(s.name)}</text>`);
  });
  const groupW = plot.w / groups.length;
  const barW = Math.min(30, (groupW - 14) / series.length);
  groups.forEach((label, g) => {
    const gx = plot.x + g * groupW + (groupW - barW * series.length) / 2;
    series.forEach((s, i) => {
      const v = s.values[g] ?? 0;
      const h = (plot.h * v) / max;
      const x = gx + i * barW;
      parts.push(`<rect x="${x.toFixed(1)}" y="${(plot.y + plot.h - h).toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${color(i)}"/>`);
      const ty = plot.y + plot.h - h - 3;
      if (v > 0) parts.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${ty.toFixed(1)}" font-size="${series.length >= 3 ? 7 : 9}" fill="#333" text-anchor="middle">${fmt(v, decimals)}</text>`);
    });
    const lines = label.split('\n');
    lines.forEach((line, i) => {
      parts.push(`<text x="${(plot.x + g * groupW + groupW / 2).toFixed(1)}" y="${plot.y + plot.h + 16 + i * 13}" font-size="11" fill="#222" text-anchor="middle">${esc(line)}</text>`);
    });
  });
  parts.push(`<line x1="${plot.x}" y1="${plot.y + plot.h}" x2="${plot.x + plot.w}" y2="${plot.y + plot.h}" stroke="#888"/>`);
  return parts.join('\n');
}

function niceMax(v: number): number {
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * exp >= v * 1.08) return m * exp;
  return 10 * exp;
}

/** How many grid steps make round labels (25 → 5 steps of 5, 30 → 6 of 5, 40 → 4 of 10). */
function tickCount(max: number): number {
  for (const n of [4, 5, 6, 3]) {
    const step = max / n;
    const mantissa = step / 10 ** Math.floor(Math.log10(step));
    if ([1, 2, 2.5, 5].some((m) => Math.abs(mantissa - m) < 1e-9)) return n;
  }
  return 4;
}

function fmt(v: number, decimals: number): string {
  return v.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** Writes the SVG, and the PNG when rsvg-convert is there; returns what was written (or why the PNG was not). */
export function writeChart(input: ChartInput, svgPath: string, pngPath: string): string[] {
  writeFileSync(svgPath, chartSvg(input));
  const converted = spawnSync('rsvg-convert', ['--format', 'png', '--background-color', 'white', '--output', pngPath, svgPath], { encoding: 'utf8' });
  if (converted.error || converted.status !== 0) {
    return [svgPath, `no PNG: rsvg-convert is missing or failed (${converted.error?.message ?? converted.stderr.trim()}); apt-get install librsvg2-bin`];
  }
  return [svgPath, pngPath];
}
