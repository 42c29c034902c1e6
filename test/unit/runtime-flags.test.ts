// Which of toolgate's V8 settings a Node process still lacks: a value the operator gave (command line or NODE_OPTIONS,
// either spelling) wins over toolgate's.
import { describe, expect, it } from 'vitest';
import { missingRuntimeFlags, RUNTIME_FLAGS } from '../../src/cli/runtime-flags.js';

describe('missingRuntimeFlags', () => {
  it("caps the young generation and slows the old one's growth", () => {
    expect(RUNTIME_FLAGS).toEqual(['--max-semi-space-size=8', '--heap-growing-percent=50']);
  });

  it.each<[string, string[], string | undefined, string[]]>([
    ['nothing given', [], undefined, ['--max-semi-space-size=8', '--heap-growing-percent=50']],
    ['only other flags', ['--enable-source-maps', '--import=x.mjs'], '--max-old-space-size=512', ['--max-semi-space-size=8', '--heap-growing-percent=50']],
    ['both on the command line', ['--max-semi-space-size=16', '--heap-growing-percent=100'], undefined, []],
    ['one on the command line, V8 spelling', ['--heap_growing_percent=20'], undefined, ['--max-semi-space-size=8']],
    ['the semi-space in NODE_OPTIONS', [], '--inspect=0 --max-semi-space-size=32', ['--heap-growing-percent=50']],
    ['the semi-space in NODE_OPTIONS with its value apart', ['--max_semi_space_size=2'], '--max-semi-space-size 4', ['--heap-growing-percent=50']],
  ])('%s', (_name, execArgv, nodeOptions, missing) => {
    expect(missingRuntimeFlags(execArgv, nodeOptions)).toEqual(missing);
  });
});
