// `toolgate serve` runs on toolgate's V8 settings however it is started (`node bin/toolgate.js`, as the image, the
// tests and the load benchmark do): the bin entry re-executes Node with them, same pid; an operator's value wins.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestIdp, type TestIdp } from '../harness/jwt.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { startToolgate } from '../harness/toolgate.js';
import { toolgateConfigText } from './helpers/toolgate.js';

printLogsOnFailure();

const BASE_URL = 'https://mcp.toolgate.test';

const heapFlag = (arg: string) => arg.startsWith('--max-semi-space-size') || arg.startsWith('--heap-growing-percent');

/** The running process's own command line, from the kernel. */
function commandLine(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((arg) => arg !== '');
}

let idp: TestIdp;
beforeAll(async () => {
  idp = await startTestIdp({ audience: `${BASE_URL}/mcp` });
});
afterAll(async () => {
  await idp?.stop();
});

describe('toolgate serve', () => {
  it.each<[string, Record<string, string | undefined>, (args: string[]) => void]>([
    ['started plainly, runs with both heap settings', { NODE_OPTIONS: undefined }, (args) => expect(args.filter(heapFlag)).toEqual(['--max-semi-space-size=8', '--heap-growing-percent=50'])],
    ["started with the operator's own semi-space, keeps it and adds the other", { NODE_OPTIONS: '--max-semi-space-size=16' }, (args) => expect(args.filter(heapFlag)).toEqual(['--heap-growing-percent=50'])],
  ])('%s', async (_name, env, expectArgs) => {
    const toolgate = await startToolgate({ config: (ports) => toolgateConfigText({ envoyUrl: BASE_URL, idp, tasks: {} }, ports), env });
    try {
      const proc = toolgate.process();
      if (!proc) throw new Error('toolgate is not running');
      const args = commandLine(proc.pid);
      // The same process the harness spawned (execve keeps the pid), serving from bin/toolgate.js.
      expect(args.some((a) => a.endsWith('bin/toolgate.js'))).toBe(true);
      expect(args.slice(args.indexOf('serve'))).toContain('--config');
      expectArgs(args);
      expect(await toolgate.stop()).toEqual({ code: 0, signal: null });
    } finally {
      await toolgate.dispose();
    }
  });
});
