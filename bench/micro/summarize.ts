// After `vitest bench`: µs/op per micro-benchmark into bench/micro-results.json and the bench:micro section of
// docs/benchmark.md. Run by `npm run bench:micro`.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const INPUT = join(REPO_ROOT, 'bench', 'out', 'micro-vitest.json');

interface VitestBench { name: string; mean: number; median: number; p75: number; p99: number; sampleCount: number; rme: number }
interface VitestReport { files: Array<{ filepath: string; groups: Array<{ fullName: string; benchmarks: VitestBench[] }> }> }

export interface MicroRow {
  readonly file: string;
  readonly group: string;
  readonly name: string;
  /** Mean time per operation (1 / ops per second), µs. */
  readonly usPerOp: number;
  readonly medianUs: number;
  readonly p99Us: number;
  readonly samples: number;
}

const us = (ms: number) => Number((ms * 1000).toFixed(ms * 1000 < 10 ? 3 : 1));

function main(): void {
  if (!existsSync(INPUT)) throw new Error(`${INPUT} is missing: run \`npm run bench:micro\``);
  const report = JSON.parse(readFileSync(INPUT, 'utf8')) as VitestReport;
  const results: MicroRow[] = report.files.flatMap((f) => f.groups.flatMap((g) => g.benchmarks.map((b) => ({
    file: relative(REPO_ROOT, f.filepath),
    group: g.fullName.split(' > ').slice(1).join(' > '),
    name: b.name,
    usPerOp: us(b.mean),
    medianUs: us(b.median),
    p99Us: us(b.p99),
    samples: b.sampleCount,
  }))));
  const load = loadavg().map((v) => Number(v.toFixed(2)));
  const out = {
    generated: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model.trim() ?? 'unknown', cores: cpus().length, node: process.versions.node, load_average_after: load },
    results,
  };
  writeFileSync(join(REPO_ROOT, 'bench', 'micro-results.json'), `${JSON.stringify(out, null, 2)}\n`);

  const lines = [
    `Node ${process.versions.node} on ${out.machine.cpu} ×${out.machine.cores}; load average ${load.join(' ')} when the run ended (shared machine: means move with it, medians less).`,
    '',
    '| benchmark | case | µs/op (mean) | median µs | p99 µs |',
    '|---|---|---:|---:|---:|',
    ...results.map((r) => `| ${r.group} | ${r.name} | ${r.usPerOp} | ${r.medianUs} | ${r.p99Us} |`),
  ];
  const doc = join(REPO_ROOT, 'docs', 'benchmark.md');
  if (existsSync(doc)) {
    const text = readFileSync(doc, 'utf8');
    const start = '<!-- bench:micro:start -->';
    const end = '<!-- bench:micro:end -->';
    const i = text.indexOf(start);
    const j = text.indexOf(end);
    if (i !== -1 && j > i) writeFileSync(doc, `${text.slice(0, i + start.length)}\n${lines.join('\n')}\n${text.slice(j)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n\nwrote bench/micro-results.json\n`);
}

main();
