// charts/toolgate, checked with the pinned helm as an operator would run it: it lints, its output is what
// `toolgate render istio` writes for the same config (one renderer, so the chart and istio/ cannot drift), istioctl
// accepts that output, and its values file's generated part is what `toolgate render helm` writes.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { renderHelmValuesFile } from '../../src/cli/render/helm.js';
import { renderIstioFile } from '../../src/cli/render/istio.js';
import { REPO_ROOT } from '../harness/repo.js';
import { complaints, helm, istioctl } from '../harness/deploy-tools.js';

// Manifests are checked as data.
type Loose = any;

const CHART = join(REPO_ROOT, 'charts', 'toolgate');
const GATEWAY_VALUES = join(REPO_ROOT, 'charts', 'examples', 'gateway-values.yaml');
/** The line in values.yaml below which `npm run render` writes the sidecar example's values (scripts/render.mjs). */
const VALUES_MARKER = '# ---- generated below this line by `npm run render` (toolgate render helm --config examples/sidecar.yaml) ----';
/** Labels only Helm adds (never in a selector): the comparison with `toolgate render istio` leaves them out. */
const HELM_LABELS = ['helm.sh/chart', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/instance'];
const STALE = 'is out of date with its example config (or the renderer): run `npm run render` and commit the result';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'toolgate-helm-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

function docs(text: string): Loose[] {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length > 0) throw new Error(d.errors[0]?.message);
    return d.toJS();
  }).filter((d) => d !== null && d !== undefined);
}

/** `helm template` of the chart: its objects, or the failure's output. */
function template(namespace: string, args: readonly string[] = []): { ok: boolean; output: string; objects: Loose[] } {
  const out = helm(['template', 'toolgate', CHART, '--namespace', namespace, ...args]);
  return { ok: out.status === 0, output: out.output, objects: out.status === 0 ? docs(out.stdout) : [] };
}

const key = (o: Loose) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;

function withoutHelmLabels(o: Loose): Loose {
  const copy = structuredClone(o);
  for (const label of HELM_LABELS) delete copy.metadata.labels?.[label];
  return copy;
}

/**
 * What a kustomize apply of istio/<pattern> creates, from `toolgate render istio`: base/ and the overlay, the overlay's
 * config in the ConfigMap, without the Kustomizations and the mesh config (Istio install configuration, not an object
 * of the cluster).
 */
function kustomized(config: string, namespace?: string, backendNamespace?: string): Map<string, Loose> {
  const files = renderIstioFile(config, { source: 'x', namespace, backendNamespace });
  const out = new Map<string, Loose>();
  let overlayConfig: Loose;
  for (const [path, text] of files) {
    for (const doc of docs(text)) {
      if (doc.kind === 'Kustomization' || doc.kind === 'IstioOperator') continue;
      if (path.endsWith('/toolgate-config.yaml')) overlayConfig = doc;
      else out.set(key(doc), doc);
    }
  }
  const configMap = out.get(`ConfigMap/${namespace ?? 'toolgate'}/toolgate-config`);
  configMap.data = overlayConfig.data;
  return out;
}

function expectSameObjects(helmObjects: Loose[], expected: Map<string, Loose>): void {
  const fromHelm = new Map(helmObjects.filter((o) => o.kind !== 'Secret').map((o) => [key(o), withoutHelmLabels(o)]));
  expect([...fromHelm.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [k, o] of fromHelm) expect(o, k).toEqual(expected.get(k));
}

describe('helm lint', () => {
  it('passes on the chart with its default values (the sidecar example), no warning', () => {
    const out = helm(['lint', CHART, '--strict', '--namespace', 'toolgate']);
    expect(out.status, out.output).toBe(0);
    expect(out.output).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(out.output).not.toMatch(/\[(WARNING|ERROR)\]/);
  });

  it('passes with the gateway example\'s values', () => {
    const out = helm(['lint', CHART, '--strict', '--namespace', 'toolgate', '-f', GATEWAY_VALUES]);
    expect(out.status, out.output).toBe(0);
    expect(out.output).not.toMatch(/\[(WARNING|ERROR)\]/);
  });
});

describe('the chart and `toolgate render istio` render the same objects (no drift)', () => {
  it('sidecar pattern (the default values): every object equal, but Helm\'s own labels', () => {
    const out = template('toolgate');
    expect(out.ok, out.output).toBe(true);
    expectSameObjects(out.objects, kustomized(join(REPO_ROOT, 'examples', 'sidecar.yaml')));
  });

  it('gateway pattern (charts/examples/gateway-values.yaml): DestinationRules, Gateway, VirtualServices and egress too', () => {
    const out = template('toolgate', ['-f', GATEWAY_VALUES]);
    expect(out.ok, out.output).toBe(true);
    expectSameObjects(out.objects, kustomized(join(REPO_ROOT, 'examples', 'gateway.yaml')));
    expect(out.objects.filter((o) => o.kind === 'DestinationRule')).toHaveLength(2);
  });

  it('another namespace: values rendered with --namespace, the release in that namespace', async () => {
    const values = join(dir, 'other.yaml');
    await writeFile(values, renderHelmValuesFile(join(REPO_ROOT, 'examples', 'gateway.yaml'), { source: 'x', namespace: 'mcp-policy', backendNamespace: 'mcp' }));
    const out = template('mcp-policy', ['-f', values]);
    expect(out.ok, out.output).toBe(true);
    expectSameObjects(out.objects, kustomized(join(REPO_ROOT, 'examples', 'gateway.yaml'), 'mcp-policy', 'mcp'));
  });

  it('refuses a release namespace the values were not rendered for, saying what to do', () => {
    const out = template('elsewhere');
    expect(out.ok).toBe(false);
    expect(out.output).toMatch(/rendered for namespace "toolgate" but the release is in "elsewhere": install with -n toolgate, or render again with --namespace elsewhere/);
  });

  it('refuses to install without rendered values', () => {
    const out = template('toolgate', ['--set', 'rendered=null']);
    expect(out.ok).toBe(false);
    expect(out.output).toMatch(/values\.rendered is missing: render it from your toolgate config with `toolgate render helm/);
  });
});

describe('the chart\'s own parts', () => {
  it('creates the Secrets the Deployment mounts, with every key the config reads; a given value is used as is', () => {
    const out = template('toolgate', ['--set', 'secrets.values.session-k1=given-session-key-with-enough-distinct-characters-0123456789']);
    expect(out.ok, out.output).toBe(true);
    const secrets = out.objects.filter((o) => o.kind === 'Secret');
    expect(secrets.map((s) => s.metadata.name).sort()).toEqual(['toolgate-admin', 'toolgate-secrets']);
    const keys = secrets.find((s) => s.metadata.name === 'toolgate-secrets').data;
    expect(Object.keys(keys)).toEqual(['session-k1']);
    expect(Buffer.from(keys['session-k1'], 'base64').toString()).toBe('given-session-key-with-enough-distinct-characters-0123456789');
    const token = Buffer.from(secrets.find((s) => s.metadata.name === 'toolgate-admin').data.token, 'base64').toString();
    expect(token).toMatch(/^[A-Za-z0-9]{64}$/);
    for (const s of secrets) expect(s.metadata.annotations['helm.sh/resource-policy']).toBe('keep');
  });

  it('made-up secrets differ between two renders (random, not a constant baked into the chart)', () => {
    const token = () => template('toolgate').objects.find((o) => o.metadata.name === 'toolgate-admin').data.token;
    expect(token()).not.toBe(token());
  });

  it('secrets.create=false leaves the Secrets to the operator', () => {
    const out = template('toolgate', ['--set', 'secrets.create=false']);
    expect(out.ok, out.output).toBe(true);
    expect(out.objects.filter((o) => o.kind === 'Secret')).toEqual([]);
  });

  it('each Istio part and the NetworkPolicy can be switched off', () => {
    const out = template('toolgate', ['-f', GATEWAY_VALUES, '--set', 'istio.envoyFilter=false', '--set', 'istio.routing=false', '--set', 'networkPolicy.enabled=false']);
    expect(out.ok, out.output).toBe(true);
    const kinds = new Set(out.objects.map((o) => o.kind));
    for (const gone of ['EnvoyFilter', 'DestinationRule', 'Gateway', 'VirtualService', 'NetworkPolicy']) expect(kinds, gone).not.toContain(gone);
    expect(kinds).toContain('AuthorizationPolicy');
    expect(out.objects.filter((o) => o.kind === 'Service').map((o) => o.metadata.name)).toEqual(['toolgate']);
  });

  it('the knobs reach the Deployment: image, replicas, log level, resources', () => {
    const out = template('toolgate', ['--set', 'image.repository=registry.example/toolgate', '--set', 'image.tag=9.9.9', '--set', 'replicas=3', '--set', 'logLevel=debug']);
    expect(out.ok, out.output).toBe(true);
    const deployment = out.objects.find((o) => o.kind === 'Deployment');
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.template.spec.containers[0].image).toBe('registry.example/toolgate:9.9.9');
    expect(deployment.spec.template.spec.containers[0].env).toContainEqual({ name: 'TOOLGATE_LOG_LEVEL', value: 'debug' });
  });
});

describe('helm template … | istioctl validate -f -', () => {
  it.each([['sidecar', []], ['gateway', ['-f', GATEWAY_VALUES]]] as const)('%s: accepted with no error and no warning', (_pattern, args) => {
    const rendered = helm(['template', 'toolgate', CHART, '--namespace', 'toolgate', ...args]);
    expect(rendered.status, rendered.output).toBe(0);
    const out = istioctl(['validate', '-f', '-'], rendered.stdout);
    expect(out.status, out.output).toBe(0);
    expect(complaints(out.output), out.output).toEqual([]);
  });
});

describe('the chart\'s generated values', () => {
  it('values.yaml below its marker line is what examples/sidecar.yaml renders to', async () => {
    const text = await readFile(join(CHART, 'values.yaml'), 'utf8');
    const at = text.indexOf(VALUES_MARKER);
    expect(at, 'values.yaml keeps its marker line').toBeGreaterThan(0);
    const rendered = renderHelmValuesFile(join(REPO_ROOT, 'examples', 'sidecar.yaml'), { source: 'examples/sidecar.yaml' });
    expect(text.slice(at + VALUES_MARKER.length + 1) === rendered, `charts/toolgate/values.yaml ${STALE}`).toBe(true);
  });

  it('charts/examples/gateway-values.yaml is what examples/gateway.yaml renders to', async () => {
    const rendered = renderHelmValuesFile(join(REPO_ROOT, 'examples', 'gateway.yaml'), { source: 'examples/gateway.yaml' });
    expect((await readFile(GATEWAY_VALUES, 'utf8')) === rendered, `charts/examples/gateway-values.yaml ${STALE}`).toBe(true);
  });
});
