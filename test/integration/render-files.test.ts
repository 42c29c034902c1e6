// The checked-in bootstraps: they match what their example configs render to, and the pinned Envoy accepts them.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { main } from '../../src/cli/main.js';
import { renderEnvoyFile } from '../../src/cli/render/envoy.js';
import { renderTemplate, templatePlaceholders, validateEnvoyConfig, type TemplateVars } from '../harness/envoy.js';
import { REPO_ROOT } from '../harness/repo.js';
import { freePort } from '../harness/ports.js';
import { EXAMPLES, rawExample, render } from '../harness/render.js';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'toolgate-render-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

function renderExample(name: string): string {
  return renderEnvoyFile(join(REPO_ROOT, 'examples', `${name}.yaml`), { source: `examples/${name}.yaml` });
}

/** Every placeholder filled as a deployment would: loopback addresses, free ports. */
async function fill(template: string): Promise<string> {
  const vars: TemplateVars = {};
  for (const name of templatePlaceholders(template)) vars[name] = name.endsWith('_ADDRESS') ? '127.0.0.1' : await freePort();
  return renderTemplate(template, vars);
}

async function validate(name: string, text: string): Promise<void> {
  const path = join(dir, `${name}.yaml`);
  await writeFile(path, await fill(text));
  const result = validateEnvoyConfig(path);
  expect(result.ok, result.output).toBe(true);
  expect(result.output).toContain('OK');
}

describe.each(EXAMPLES)('envoy/%s.yaml', (name) => {
  it(`is exactly what examples/${name}.yaml renders to`, async () => {
    const checkedIn = await readFile(join(REPO_ROOT, 'envoy', `${name}.yaml`), 'utf8');
    expect(renderExample(name) === checkedIn, `envoy/${name}.yaml is out of date with examples/${name}.yaml (or the renderer): run \`npm run render\` and commit the result`).toBe(true);
  });

  it('passes the pinned envoy --mode validate once its placeholders are filled', async () => {
    await validate(name, await readFile(join(REPO_ROOT, 'envoy', `${name}.yaml`), 'utf8'));
  });
});

it('a gateway with fast-path routes (bare names of a `never` backend declared 2026-capable) passes envoy --mode validate too', async () => {
  const raw = rawExample('gateway');
  const text = render({
    ...raw,
    backends: { ...raw.backends, inventory: { cluster: 'inventory', prefixMode: 'never', protocols: ['2025-06-18', '2026-07-28'] } },
    tasks: { counting: { tools: [{ tool: 'check_stock' }] } },
  });
  expect(text).toContain('fast-path:check_stock:unrouted');
  expect(text).toContain('envoy.filters.http.mcp');
  await validate('gateway-fast', text);
});

describe('toolgate render envoy (CLI)', () => {
  it('writes --out with --var values filled in', async () => {
    const config = join(dir, 'sidecar-config.yaml');
    await writeFile(config, stringify(rawExample('sidecar')));
    const out = join(dir, 'rendered.yaml');
    const code = await main(['render', 'envoy', '--config', config, '--var', 'ADMIN_PORT=9901', '--var', 'BACKEND_ADDRESS=mcp.local', '--out', out]);
    expect(code).toBe(0);
    const text = await readFile(out, 'utf8');
    expect(text).toContain('port_value: 9901');
    expect(text).toContain('address: mcp.local');
    expect(text).toContain('${LISTEN_PORT}');
  });

  it.each([
    [['render', 'nginx', '--config', 'x'], 2],
    [['render', 'envoy'], 2],
    [['render', 'envoy', '--config', 'examples/sidecar.yaml', '--var', 'NOEQUALS'], 2],
    [['render', 'envoy', '--config', '/nonexistent/toolgate.yaml'], 1],
  ])('%j exits %i', async (argv, code) => {
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => { errors.push(args); };
    try {
      expect(await main(argv)).toBe(code);
    } finally {
      console.error = original;
    }
    expect(errors.length).toBeGreaterThan(0);
  });
});
