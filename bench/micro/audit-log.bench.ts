// What one audit record costs until it is written, per log destination: a batch of 100 records (toolgate's `auditor`
// on its logger: redaction, ISO time, level label), then the wait until the destination has handed them to the
// kernel. µs/op ÷ 100 = µs per record. The CPU split (main thread against the whole process) is
// bench/micro/audit-log-cpu.ts. Run: node scripts/on-pinned-node.mjs node_modules/vitest/vitest.mjs bench --run
//   --config bench/vitest.config.ts bench/micro/audit-log.bench.ts
import { afterAll, bench, describe } from 'vitest';
import { BEFORE, DESTINATIONS, RECORD, type BenchDestination } from './audit-destinations.js';

const BATCH = 100;
const opened: BenchDestination[] = [];

describe('audit record, 100 per op, until written (/dev/null)', async () => {
  const before = await (DESTINATIONS[BEFORE] as () => BenchDestination)();
  opened.push(before);
  bench('before: sonic-boom async, record through the redaction pass', async () => {
    for (let i = 0; i < BATCH; i++) before.auditBefore(RECORD);
    await before.written();
  }, { time: 1500 });
  for (const [name, make] of Object.entries(DESTINATIONS)) {
    const dest = await make();
    opened.push(dest);
    bench(name, async () => {
      for (let i = 0; i < BATCH; i++) dest.audit(RECORD);
      await dest.written();
    }, { time: 1500 });
  }
});

afterAll(async () => {
  for (const dest of opened) await dest.close();
});
