// Which of toolgate's V8 settings a Node process still lacks: a value the operator gave (command line or NODE_OPTIONS,
// either spelling) wins over toolgate's.
import { describe, expect, it } from 'vitest';
import { missingRuntimeFlags, RUNTIME_FLAGS } from '../../src/cli/runtime-flags.js';

describe('missingRuntimeFlags', () => {
  it('caps the young generation', () => {
    expect(RUNTIME_FLAGS).toEqual(['--max-semi-space-size=8']);
  });

  it.each<[string, string[], string | undefined, string[]]>([
    ['nothing given', [], undefined, ['--max-semi-space-size=8']],
    ['only other flags', ['--enable-source-maps', '--import=x.mjs'], '--max-old-space-size=512', ['--max-semi-space-size=8']],
    ['on the command line', ['--max-semi-space-size=16'], undefined, []],
    ['on the command line, V8 spelling', ['--max_semi_space_size=2'], undefined, []],
    ['in NODE_OPTIONS', [], '--inspect=0 --max-semi-space-size=32', []],
    ['in NODE_OPTIONS with its value apart', [], '--max-semi-space-size 4', []],
  ])('%s', (_name, execArgv, nodeOptions, missing) => {
    expect(missingRuntimeFlags(execArgv, nodeOptions)).toEqual(missing);
  });
});
