// istio/ is generated: it matches what the examples render to, and the ext_proc filter its EnvoyFilters insert is one
// the pinned Envoy accepts (embedded into a rendered bootstrap, before the router, as Istio would insert it).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { main } from '../../src/cli/main.js';
import { renderEnvoyFile } from '../../src/cli/render/envoy.js';
import { renderTemplate, templatePlaceholders, validateEnvoyConfig, type TemplateVars } from '../harness/envoy.js';
import { REPO_ROOT } from '../harness/repo.js';
import { checkedInFiles, PATTERNS, readIstio, renderPattern, type Loose, type Pattern } from '../harness/istio.js';
import { extProcConfig, rawExample } from '../harness/render.js';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'toolgate-istio-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

const STALE = 'istio/ is out of date with its example config (or the renderer): run `npm run render` and commit the result';

describe('the checked-in istio/ files', () => {
  const sidecar = renderPattern('sidecar');
  const gateway = renderPattern('gateway');

  it.each([...sidecar].filter(([path]) => !path.startsWith('gateway/')))('%s is what examples/sidecar.yaml renders to', (path, text) => {
    expect(readIstio(path) === text, `${path}: ${STALE}`).toBe(true);
  });

  it.each([...gateway].filter(([path]) => path.startsWith('gateway/')))('%s is what examples/gateway.yaml renders to', (path, text) => {
    expect(readIstio(path) === text, `${path}: ${STALE}`).toBe(true);
  });

  it('base/ is shared: the gateway example renders the same base but for the config, which its overlay replaces', () => {
    const differ = [...gateway].filter(([path, text]) => path.startsWith('base/') && sidecar.get(path) !== text).map(([path]) => path);
    expect(differ).toEqual(['base/configmap.yaml']);
  });

  it('holds nothing else (no file left over from an older renderer)', () => {
    const rendered = new Set([...sidecar.keys(), ...[...gateway.keys()].filter((p) => p.startsWith('gateway/'))]);
    expect(checkedInFiles()).toEqual([...rendered].sort());
  });
});

/** Every placeholder filled as a deployment would: loopback addresses, free-looking ports, cert paths. */
function fill(template: string): string {
  const vars: TemplateVars = {};
  let port = 20000;
  for (const name of templatePlaceholders(template)) vars[name] = name.endsWith('_ADDRESS') ? '127.0.0.1' : port++;
  return renderTemplate(template, vars);
}

/**
 * The standalone bootstrap for the pattern's example, with its ext_proc filter replaced by the EnvoyFilter's patch
 * value inserted before the router, and the toolgate cluster renamed to the Istio cluster name the patch calls.
 */
function bootstrapWithPatch(pattern: Pattern): { bootstrap: Loose; istioCluster: string } {
  const bootstrap = parse(renderEnvoyFile(join(REPO_ROOT, 'examples', `${pattern}.yaml`), { source: 'x' })) as Loose;
  const filter = parse(readIstio(`${pattern}/envoyfilter.yaml`)) as Loose;
  const value = filter.spec.configPatches[0].patch.value;
  const istioCluster: string = extProcConfig(value).grpc_service.envoy_grpc.cluster_name;
  const listener = bootstrap.static_resources.listeners.find((l: Loose) => l.name === 'mcp');
  const hcm = listener.filter_chains[0].filters[0].typed_config;
  const filters = (hcm.http_filters as Loose[]).filter((f) => f.name !== 'envoy.filters.http.ext_proc');
  const router = filters.findIndex((f) => f.name === 'envoy.filters.http.router');
  filters.splice(router, 0, value);
  hcm.http_filters = filters;
  for (const f of filters) {
    if (f.typed_config?.grpc_service?.envoy_grpc?.cluster_name === 'toolgate') f.typed_config.grpc_service.envoy_grpc.cluster_name = istioCluster;
  }
  const cluster = bootstrap.static_resources.clusters.find((c: Loose) => c.name === 'toolgate');
  cluster.name = istioCluster;
  cluster.load_assignment.cluster_name = istioCluster;
  // The HCM patch MERGEs into Istio's own connection manager: here, into one without the standalone edge settings.
  const hcmPatch = filter.spec.configPatches[1].patch.value.typed_config;
  for (const key of Object.keys(hcmPatch)) if (key !== '@type') delete hcm[key];
  delete hcm.local_reply_config;
  Object.assign(hcm, hcmPatch);
  return { bootstrap, istioCluster };
}

describe.each(PATTERNS)('the %s EnvoyFilter\'s ext_proc filter', (pattern) => {
  it('passes the pinned envoy --mode validate inside a bootstrap, before the router', async () => {
    const { bootstrap, istioCluster } = bootstrapWithPatch(pattern);
    const filters = bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters.map((f: Loose) => f.name);
    // The sidecar example's bootstrap also has the MCP filter of its 2026 fast path (Istio has no such routes).
    expect(filters.filter((f: string) => f !== 'envoy.filters.http.mcp')).toEqual(['envoy.filters.http.ext_authz', 'envoy.filters.http.ext_proc', 'envoy.filters.http.router']);
    expect(istioCluster).toBe('outbound|9001||toolgate.toolgate.svc.cluster.local');
    const path = join(dir, `${pattern}-istio-patch.yaml`);
    await writeFile(path, fill(stringify(bootstrap, { lineWidth: 0 })));
    const result = validateEnvoyConfig(path);
    expect(result.ok, result.output).toBe(true);
  });

  it('is the standalone bootstrap\'s ext_proc, only the cluster name differs', () => {
    const standalone = parse(renderEnvoyFile(join(REPO_ROOT, 'examples', `${pattern}.yaml`), { source: 'x' })) as Loose;
    const ext = standalone.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters.find((f: Loose) => f.name === 'envoy.filters.http.ext_proc');
    const patch = (parse(readIstio(`${pattern}/envoyfilter.yaml`)) as Loose).spec.configPatches[0].patch.value;
    extProcConfig(ext).grpc_service.envoy_grpc.cluster_name = extProcConfig(patch).grpc_service.envoy_grpc.cluster_name;
    expect(patch).toEqual(ext);
  });

  it('merges the standalone MCP listener\'s edge into Istio\'s connection manager: internal headers stripped before routing, slow clients bounded', () => {
    const standalone = parse(renderEnvoyFile(join(REPO_ROOT, 'examples', `${pattern}.yaml`), { source: 'x' })) as Loose;
    const hcm = standalone.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    const [, edge] = (parse(readIstio(`${pattern}/envoyfilter.yaml`)) as Loose).spec.configPatches;
    expect(edge).toMatchObject({
      applyTo: 'NETWORK_FILTER',
      match: { context: pattern === 'gateway' ? 'GATEWAY' : 'SIDECAR_INBOUND', listener: { filterChain: { filter: { name: 'envoy.filters.network.http_connection_manager' } } } },
      patch: { operation: 'MERGE' },
    });
    const { '@type': type, ...fields } = edge.patch.value.typed_config;
    expect(type).toBe(hcm['@type']);
    expect(Object.keys(fields).sort()).toEqual(['early_header_mutation_extensions', 'max_request_headers_kb', 'request_headers_timeout', 'request_timeout']);
    for (const [key, value] of Object.entries(fields)) expect(value, key).toEqual(hcm[key]);
  });
});

describe('toolgate render istio (CLI)', () => {
  async function quietly(argv: string[]): Promise<{ code: number | undefined; errors: string; out: string }> {
    const errors: string[] = [];
    let out = '';
    const [error, write] = [console.error, process.stdout.write.bind(process.stdout)];
    console.error = (...args: unknown[]) => { errors.push(args.join(' ')); };
    process.stdout.write = ((chunk: string | Uint8Array) => { out += String(chunk); return true; }) as typeof process.stdout.write;
    try {
      return { code: await main(argv), errors: errors.join('\n'), out };
    } finally {
      console.error = error;
      process.stdout.write = write;
    }
  }

  it('writes base/ and the overlay under --out, in another namespace when asked', async () => {
    const out = join(dir, 'out');
    const { code } = await quietly(['render', 'istio', '--config', join(REPO_ROOT, 'examples', 'gateway.yaml'), '--namespace', 'mcp-policy', '--backend-namespace', 'mcp', '--out', out]);
    expect(code).toBe(0);
    const deployment = parse(await readFile(join(out, 'base', 'deployment.yaml'), 'utf8')) as Loose;
    expect(deployment.metadata.namespace).toBe('mcp-policy');
    const filter = parse(await readFile(join(out, 'gateway', 'envoyfilter.yaml'), 'utf8')) as Loose;
    expect(filter.spec.configPatches[0].patch.value.typed_config.grpc_service.envoy_grpc.cluster_name).toBe('outbound|9001||toolgate.mcp-policy.svc.cluster.local');
    expect(await readFile(join(out, 'gateway', 'destinationrules.yaml'), 'utf8')).toContain('host: billing.mcp.svc.cluster.local');
  });

  it('prints every file to stdout without --out', async () => {
    const { code, out } = await quietly(['render', 'istio', '--config', join(REPO_ROOT, 'examples', 'sidecar.yaml')]);
    expect(code).toBe(0);
    expect(out).toContain('# ---- base/deployment.yaml ----');
    expect(out).toContain('# ---- sidecar/envoyfilter.yaml ----');
  });

  it.each([
    ['an inline session secret (it would land in a ConfigMap)', { session: { keys: [{ kid: 'k1', secret: 'x'.repeat(40) }] } }, /session\.keys\[0\]\.secret: an inline secret/],
    ['a random gRPC port', { server: { grpcPort: 0 } }, /server\.grpcPort: a Service needs a fixed port/],
  ])('refuses %s', async (_what, change, message) => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, stringify({ ...rawExample('sidecar'), ...change }));
    const { code, errors } = await quietly(['render', 'istio', '--config', file]);
    expect(code).toBe(1);
    expect(errors).toMatch(message);
  });
});
