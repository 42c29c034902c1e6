// The operator docs (docs/kubernetes.md, istio/README.md) claim for each command either that the suite runs it or
// that it cannot run here (no cluster). A command with neither mark, or marked as checked but of a kind no suite
// runs, fails here: the docs must not pass off untested commands as tested.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/repo.js';

const DOCS = ['docs/kubernetes.md', 'istio/README.md'];
const CHECKED = '# checked by the suite';
const NOT_RUNNABLE = '# not runnable here';
/** The commands test/deploy/ (and the istio/ tests) run, as an operator would type them. */
const SUITE_RUNS = ['toolgate render istio ', 'toolgate render helm ', 'helm lint ', 'helm template ', 'istioctl validate ', 'istioctl analyze --use-kube=false '];

/** Every non-comment line of the ```sh blocks. */
function commands(text: string): string[] {
  const out: string[] = [];
  let inside = false;
  for (const line of text.split('\n')) {
    if (/^```/.test(line)) {
      inside = !inside && line.trim() === '```sh';
      continue;
    }
    if (inside && line.trim() && !line.trim().startsWith('#')) out.push(line.trim());
  }
  return out;
}

describe.each(DOCS)('%s', (doc) => {
  const lines = commands(readFileSync(join(REPO_ROOT, doc), 'utf8'));

  it('has commands, each marked as checked by the suite or not runnable here', () => {
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line.includes(CHECKED) || line.includes(NOT_RUNNABLE), line).toBe(true);
  });

  it('marks as checked only commands the suite runs (every stage of a pipe)', () => {
    for (const line of lines.filter((l) => l.includes(CHECKED))) {
      const stages = line.slice(0, line.indexOf('#')).split('|').map((s) => `${s.trim()} `);
      for (const stage of stages) expect(SUITE_RUNS.some((p) => stage.startsWith(p)), `${line}: "${stage.trim()}"`).toBe(true);
    }
  });
});
