// The import rules of src/ (.dependency-cruiser.cjs, drawn in docs/architecture.md): none is broken, and each
// one can fail — a small tree under test/fixtures/layers breaks every rule once and must be caught edge by edge.
import path from 'node:path';
import { cruise as depcruise, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Violation { rule: { name: string }; from: string; to: string }

/** dependency-cruiser's API in this process (test/unit runs nothing else): the same config `npx depcruise` reads. */
async function cruise(target: string): Promise<{ violations: Violation[]; modules: number }> {
  // The config names tsconfig.json relative to the working directory, as the CLI does; vitest runs from the root.
  if (process.cwd() !== ROOT) throw new Error(`run the suite from ${ROOT} (cwd is ${process.cwd()})`);
  const options = await extractDepcruiseOptions(path.join(ROOT, '.dependency-cruiser.cjs'));
  const result = await depcruise([target], options, {}, { tsConfig: extractTSConfig('tsconfig.json') });
  const report = result.output as ICruiseResult;
  return { violations: report.summary.violations as Violation[], modules: report.summary.totalCruised };
}

// A worktree whose node_modules is a link resolves packages through it (`../../main/node_modules/…`): one name for both.
const local = (file: string) => file.replace(/^test\/fixtures\/layers\//, '').replace(/^(\.\.\/)+.*?\/node_modules\//, 'node_modules/');
const edge = (v: Violation) => `${v.rule.name}: ${local(v.from)} → ${local(v.to)}`;

describe('import rules', () => {
  it('src/ breaks none: no cycle, no upward or sideways import, no wire library in core or pipeline', async () => {
    const { violations, modules } = await cruise('src');
    expect(modules).toBeGreaterThan(150);
    expect(violations.map(edge)).toEqual([]);
  }, 60_000);

  it('each rule catches the edge that breaks it (test/fixtures/layers)', async () => {
    const found = (await cruise('test/fixtures/layers/src')).violations.map(edge).sort();
    // One line per rule in .dependency-cruiser.cjs but `src-not-test`, which is anchored to the repository's own src/
    // (pipeline-leaves twice: fanout and the shared session code).
    expect(found).toEqual([
      'app-observe-below-server: src/app/observe/hooks.ts → src/app/server/serve.ts',
      'app-runtime-is-app-floor: src/app/runtime/load.ts → src/app/server/serve.ts',
      'core-and-pipeline-speak-no-wire: src/pipeline/fanout/egress.ts → node_modules/ioredis/built/index.js',
      'core-config-reads-only-mcp: src/core/config/schema.ts → src/core/runtime.ts',
      'core-domains-read-config-and-mcp: src/core/policy/domain.ts → src/core/identity/verify.ts',
      'core-mcp-is-the-floor: src/core/mcp/floor.ts → src/core/policy/domain.ts',
      'core-runtime-is-the-top-of-core: src/core/config/schema.ts → src/core/runtime.ts',
      'no-circular: src/pipeline/extproc/cycle-a.ts → src/pipeline/extproc/cycle-b.ts',
      'no-unresolvable: src/pipeline/extproc/route.ts → ./missing.js',
      'no-upward-from-app: src/app/server/serve.ts → src/cli/main.ts',
      'no-upward-from-core: src/core/policy/domain.ts → src/pipeline/authz/stage.ts',
      'no-upward-from-envoy: src/envoy/adapter.ts → src/app/runtime/load.ts',
      'no-upward-from-pipeline: src/pipeline/extproc/cycle-b.ts → src/envoy/adapter.ts',
      'no-upward-from-ports: src/ports/store/port.ts → src/app/server/serve.ts',
      'pipeline-authz-not-extproc: src/pipeline/authz/stage.ts → src/pipeline/extproc/cycle-a.ts',
      'pipeline-extproc-not-authz: src/pipeline/extproc/route.ts → src/pipeline/authz/stage.ts',
      'pipeline-leaves: src/pipeline/fanout/egress.ts → src/pipeline/authz/stage.ts',
      'pipeline-leaves: src/pipeline/session/presented.ts → src/pipeline/extproc/route.ts',
    ]);
  }, 60_000);
});
