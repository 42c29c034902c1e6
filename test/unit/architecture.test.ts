// The import rules of src/ (.dependency-cruiser.cjs, drawn in docs/architecture.md): none is broken, and each
// one can fail — a small tree under test/fixtures/layers breaks every rule once and must be caught edge by edge.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs');

interface Violation { rule: { name: string }; from: string; to: string }

function cruise(target: string): { violations: Violation[]; modules: number } {
  // depcruise exits non-zero when it finds violations; the JSON report is what the test reads either way.
  let out: string;
  try {
    out = execFileSync(process.execPath, [CLI, target, '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch (err) {
    const { stdout, stderr } = err as { stdout: string; stderr: string };
    if (!stdout) throw new Error(`depcruise wrote no report: ${stderr}`);
    out = stdout;
  }
  const report = JSON.parse(out) as { summary: { violations: Violation[]; totalCruised: number } };
  return { violations: report.summary.violations, modules: report.summary.totalCruised };
}

const edge = (v: Violation) => `${v.rule.name}: ${v.from.replace(/^test\/fixtures\/layers\//, '')} → ${v.to.replace(/^test\/fixtures\/layers\//, '')}`;

describe('import rules', () => {
  it('src/ breaks none: no cycle, no upward or sideways import, no wire library in core or pipeline', () => {
    const { violations, modules } = cruise('src');
    expect(modules).toBeGreaterThan(150);
    expect(violations.map(edge)).toEqual([]);
  }, 60_000);

  it('each rule catches the edge that breaks it (test/fixtures/layers)', () => {
    const found = cruise('test/fixtures/layers/src').violations.map(edge).sort();
    // One line per rule in .dependency-cruiser.cjs but `src-not-test`, which is anchored to the repository's own src/.
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
    ]);
  }, 60_000);
});
