// CPU per audit record, per log destination: the main thread's (the thread every request shares) and the whole
// process's (thread pool and worker threads included), from /proc. Records are logged in batches of 1, 8 and 100 (how
// many decisions one event-loop turn makes: 1 client, a few, a burst), each batch written before the next; 30 000
// records per cell, three rounds, the best kept. Run:
//   node scripts/on-pinned-node.mjs --import tsx bench/micro/audit-log-cpu.ts
import { readFileSync } from 'node:fs';
import { BEFORE, DESTINATIONS, RECORD, type BenchDestination } from './audit-destinations.js';

const RECORDS = 30_000;
const ROUNDS = 3;
const BATCHES = [1, 8, 100] as const;
const TICK_US = 10_000; // USER_HZ = 100

/** The main thread's utime + stime, µs (its task id is the process id). */
function mainThreadCpuUs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

function processCpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** Which audit call a row makes: toolgate's writer, or the one before it (through the redaction pass). */
type Writer = 'audit' | 'auditBefore';
const VARIANTS: Array<[string, () => BenchDestination | Promise<BenchDestination>, Writer]> = [
  ['before: sonic-boom async, record through the redaction pass', DESTINATIONS[BEFORE] as () => BenchDestination, 'auditBefore'],
  ...Object.entries(DESTINATIONS).map(([name, make]): [string, typeof make, Writer] => [name, make, 'audit']),
];

async function measure(make: () => BenchDestination | Promise<BenchDestination>, writer: Writer, batch: number): Promise<{ main: number; proc: number }> {
  const dest = await make();
  const fn = dest[writer];
  for (let i = 0; i < 2_000; i++) {
    fn(RECORD);
    if (i % batch === 0) await dest.written();
  }
  await dest.written();
  const main0 = mainThreadCpuUs();
  const proc0 = processCpuUs();
  for (let i = 0; i < RECORDS / batch; i++) {
    for (let j = 0; j < batch; j++) fn(RECORD);
    await dest.written();
  }
  const main = mainThreadCpuUs() - main0;
  const proc = processCpuUs() - proc0;
  await dest.close();
  return { main: main / RECORDS, proc: proc / RECORDS };
}

const cells = new Map<string, { main: number; proc: number }>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, make, fn] of VARIANTS) {
    for (const batch of BATCHES) {
      const key = `${name}\u0000${batch}`;
      const got = await measure(make, fn, batch);
      const seen = cells.get(key);
      // The lowest of the rounds: the one the machine's other work disturbed least.
      cells.set(key, { main: Math.min(got.main, seen?.main ?? Infinity), proc: Math.min(got.proc, seen?.proc ?? Infinity) });
    }
  }
}

const f = (n: number | undefined) => (n === undefined ? '–' : n.toFixed(1));
process.stdout.write(`Node ${process.versions.node}; µs per record, main thread / whole process; records per batch (per event-loop turn): ${BATCHES.join(', ')}\n\n`);
process.stdout.write(`| destination | ${BATCHES.map((b) => `${b} per turn`).join(' | ')} |\n|---|${BATCHES.map(() => '---:').join('|')}|\n`);
for (const [name] of VARIANTS) {
  const row = BATCHES.map((b) => cells.get(`${name}\u0000${b}`)).map((c) => `${f(c?.main)} / ${f(c?.proc)}`);
  process.stdout.write(`| ${name} | ${row.join(' | ')} |\n`);
}
