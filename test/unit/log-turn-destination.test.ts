// The stdout log destination: records queue during a turn of the event loop and leave together after it; flush waits
// for them, flushSync writes them at once (process exit), a failed write is reported and does not stop later ones.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { turnDestination } from '../../src/ports/log/turn-destination.js';

let dir: string;
let file: string;
let fd: number;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'toolgate-log-'));
  file = join(dir, 'out.log');
  fd = openSync(file, 'w');
});
afterEach(() => {
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});

const lines = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `{"n":${from + i}}\n`);
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('turnDestination', () => {
  it('writes nothing while the turn runs, and every record of the turn, in order, once it is over', async () => {
    const dest = turnDestination(fd);
    for (const line of lines(50)) dest.write(line);
    expect(readFileSync(file, 'utf8')).toBe('');
    await turn();
    expect(readFileSync(file, 'utf8')).toBe(lines(50).join(''));
  });

  it('flush resolves (and calls back) once everything queued is written; at once when nothing is', async () => {
    const dest = turnDestination(fd);
    let called = 0;
    await dest.flush(() => { called++; });
    expect(called).toBe(1);
    for (const line of lines(3)) dest.write(line);
    await dest.flush(() => { called++; });
    expect(called).toBe(2);
    expect(readFileSync(file, 'utf8')).toBe(lines(3).join(''));
  });

  it('flushSync writes the queue before it returns (exit: no turn comes after)', () => {
    const dest = turnDestination(fd);
    for (const line of lines(5)) dest.write(line);
    dest.flushSync();
    expect(readFileSync(file, 'utf8')).toBe(lines(5).join(''));
  });

  it('reports a failed write, hands the error to flush, and still writes what comes after', async () => {
    const readOnly = openSync(file, 'r');
    const errors: string[] = [];
    try {
      const dest = turnDestination(readOnly, { onError: (err) => errors.push(String(err.code)) });
      dest.write('lost\n');
      const seen = await new Promise<Error | undefined>((resolve) => { void dest.flush(resolve); });
      expect(errors).toEqual(['EBADF']);
      expect((seen as NodeJS.ErrnoException | undefined)?.code).toBe('EBADF');
      dest.write('also lost\n');
      await dest.flush();
      expect(errors).toEqual(['EBADF', 'EBADF']);
    } finally {
      closeSync(readOnly);
    }
  });
});
