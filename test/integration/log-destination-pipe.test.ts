// The stdout log destination against a real pipe whose reader falls behind (a log shipper under pressure): the kernel
// takes part of a batch, then says EAGAIN; the rest is retried until the reader has taken every byte, in order.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { turnDestination } from '../../src/ports/log/turn-destination.js';

let dir: string;
let reader: number;
let writer: number;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'toolgate-fifo-'));
  const fifo = join(dir, 'stdout');
  execFileSync('mkfifo', [fifo]);
  // Reader first: a non-blocking open for writing needs one. The writer is non-blocking, as a piped stdout can be.
  reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
});
afterEach(() => {
  closeSync(writer);
  closeSync(reader);
  rmSync(dir, { recursive: true, force: true });
});

it('retries what a full pipe refused until the reader has every record, in order', async () => {
  const records = Array.from({ length: 20_000 }, (_, i) => `{"event":"decision","decisionId":"d-${i}","padding":"${'x'.repeat(40)}"}\n`);
  const expected = Buffer.from(records.join(''));
  // Far more than a pipe holds (64 KiB): the first write is partial, then EAGAIN.
  expect(expected.length).toBeGreaterThan(1024 * 1024);
  let refused = 0;
  const dest = turnDestination(writer, { retryMs: 2, onError: () => { refused++; } });
  for (const record of records) dest.write(record);

  const received: Buffer[] = [];
  const chunk = Buffer.alloc(32 * 1024);
  const drain = () => {
    for (;;) {
      try {
        const n = readSync(reader, chunk);
        if (n === 0) return;
        received.push(Buffer.from(chunk.subarray(0, n)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return;
        throw err;
      }
    }
  };
  // A slow reader: one pipeful every few milliseconds.
  const slow = setInterval(drain, 3);
  let flushed = false;
  try {
    await dest.flush(() => { flushed = true; });
  } finally {
    clearInterval(slow);
  }
  drain();
  expect(flushed).toBe(true);
  expect(refused).toBe(0);
  expect(Buffer.concat(received).equals(expected)).toBe(true);
});
