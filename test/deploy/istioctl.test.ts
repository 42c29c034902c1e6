// The Istio manifests, checked by the pinned istioctl as an operator would before `kubectl apply`: `istioctl validate`
// runs the checks of Istio's admission webhook (no error, no deprecation warning), and `istioctl analyze` (no cluster)
// finds no error across toolgate, both patterns' overlays and the mesh config together.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { main } from '../../src/cli/main.js';
import { REPO_ROOT } from '../harness/repo.js';
import { complaints, ENVOYFILTER_WARNING, istioctl, istioctlBinary, ISTIOCTL_VERSION } from '../harness/deploy-tools.js';
import { checkedInFiles, ISTIO_DIR, PATTERNS } from '../harness/istio.js';

// Manifests are checked as data.
type Loose = any;

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'toolgate-istioctl-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

/** `istioctl validate -f FILE`: passes only when it exits 0 and prints nothing that warns or fails. */
function expectValid(file: string): void {
  const out = istioctl(['validate', '-f', file]);
  expect(out.status, `${file}\n${out.output}`).toBe(0);
  expect(complaints(out.output), `${file}\n${out.output}`).toEqual([]);
}

/** Kustomizations are kustomize's input, not objects of the cluster: istioctl has nothing to say about them. */
const objectFiles = (files: readonly string[]) => files.filter((f) => !f.endsWith('kustomization.yaml'));

describe(`istioctl validate (istio.io/istio ${ISTIOCTL_VERSION})`, () => {
  it('is the pinned build (go version -m: built from istio.io/istio at the pinned version)', () => {
    const out = spawnSync('go', ['version', '-m', istioctlBinary()], { encoding: 'utf8' });
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toMatch(new RegExp(`\\smod\\s+istio\\.io/istio\\s+${ISTIOCTL_VERSION}\\s`));
  });

  it('an EnvoyFilter gets only Istio\'s warning for every EnvoyFilter (ext_proc has no other Istio API), which complaints() leaves out', () => {
    for (const pattern of PATTERNS) {
      const out = istioctl(['validate', '-f', join(ISTIO_DIR, pattern, 'envoyfilter.yaml')]);
      expect(out.status, out.output).toBe(0);
      expect(out.output).toMatch(ENVOYFILTER_WARNING);
      expect(complaints(out.output), out.output).toEqual([]);
    }
  });

  it.each(objectFiles(checkedInFiles()))('istio/%s: no error, no warning', (file) => {
    expectValid(join(ISTIO_DIR, file));
  });

  it.each(PATTERNS)('every file `toolgate render istio` writes for examples/%s.yaml, in other namespaces too', async (pattern) => {
    const out = join(dir, `render-${pattern}`);
    const code = await main(['render', 'istio', '--config', join(REPO_ROOT, 'examples', `${pattern}.yaml`), '--namespace', 'mcp-policy', '--backend-namespace', 'mcp', '--out', out]);
    expect(code).toBe(0);
    const written = [`${pattern}/mesh-config.yaml`, `${pattern}/authorizationpolicy.yaml`, `${pattern}/envoyfilter.yaml`, `${pattern}/networkpolicy.yaml`,
      `${pattern}/toolgate-config.yaml`, 'base/deployment.yaml', 'base/service.yaml', 'base/peerauthentication.yaml'];
    if (pattern === 'gateway') written.push('gateway/destinationrules.yaml', 'gateway/gateway.yaml', 'gateway/virtualservice.yaml', 'gateway/egress.yaml');
    for (const file of written) expectValid(join(out, file));
  });

  it('does catch what the webhook refuses: a route timeout of 0s, and the deprecated top-level minimumRingSize', async () => {
    const vs = parse(await readFile(join(ISTIO_DIR, 'gateway', 'virtualservice.yaml'), 'utf8')) as Loose;
    vs.spec.http[0].timeout = '0s';
    await writeFile(join(dir, 'bad-vs.yaml'), stringify(vs));
    const refused = istioctl(['validate', '-f', join(dir, 'bad-vs.yaml')]);
    expect(refused.status).not.toBe(0);
    expect(refused.output).toMatch(/duration must be greater than 1ms/);

    const [dr] = (await readFile(join(ISTIO_DIR, 'gateway', 'destinationrules.yaml'), 'utf8')).split(/^---$/m).map((d) => parse(d) as Loose);
    dr.spec.trafficPolicy.loadBalancer.consistentHash = { httpHeaderName: 'x-toolgate-affinity', minimumRingSize: 1024 };
    await writeFile(join(dir, 'bad-dr.yaml'), stringify(dr));
    const warned = istioctl(['validate', '-f', join(dir, 'bad-dr.yaml')]);
    expect(warned.output).toMatch(/MinimumRingSize is deprecated/);
    expect(complaints(warned.output)).toEqual([expect.stringMatching(/^\* DestinationRule\/istio-system\/toolgate-billing: consistent hash MinimumRingSize is deprecated/)]);
  });
});

interface AnalysisMessage {
  readonly code: string;
  readonly level: string;
  readonly message: string;
  readonly origin?: string;
}

/**
 * `istioctl analyze --use-kube=false -o json` over files, with a mesh config: every message it reports. (With -o json
 * istioctl exits 0 whatever it found: the messages are the verdict.)
 */
async function analyze(name: string, files: readonly string[]): Promise<{ output: string; messages: AnalysisMessage[] }> {
  const operator = parse(await readFile(join(ISTIO_DIR, 'gateway', 'mesh-config.yaml'), 'utf8')) as Loose;
  const sidecarOperator = parse(await readFile(join(ISTIO_DIR, 'sidecar', 'mesh-config.yaml'), 'utf8')) as Loose;
  // Both patterns name the same provider, with the same settings: one mesh config serves both.
  expect(sidecarOperator.spec.meshConfig).toEqual(operator.spec.meshConfig);
  const mesh = join(dir, `${name}-mesh.yaml`);
  await writeFile(mesh, stringify(operator.spec.meshConfig));
  const out = istioctl(['analyze', '--use-kube=false', '--meshConfigFile', mesh, '--all-namespaces', '-o', 'json', join(import.meta.dirname, 'fixtures', 'cluster.yaml'), ...files]);
  const start = out.stdout.indexOf('[');
  const messages = start < 0 ? [] : (JSON.parse(out.stdout.slice(start)) as AnalysisMessage[]);
  if (out.status !== 0) throw new Error(`istioctl analyze failed to run (exit ${out.status}):\n${out.output}`);
  return { output: out.output, messages };
}

/** What an operator would have to act on: everything above Info, but Istio's warning for every EnvoyFilter. */
function actionable(messages: readonly AnalysisMessage[]): AnalysisMessage[] {
  return messages.filter((m) => m.level !== 'Info' && !(m.code === 'IST0133' && ENVOYFILTER_WARNING.test(m.message)));
}

const istio = (...files: string[]) => files.map((f) => join(ISTIO_DIR, f));
/** base/ as the overlay patches it: the overlay's toolgate-config.yaml replaces base/configmap.yaml. */
const base = istio('base/serviceaccount.yaml', 'base/deployment.yaml', 'base/service.yaml', 'base/pdb.yaml', 'base/hpa.yaml', 'base/peerauthentication.yaml');
const overlay = (pattern: string) => objectFiles(checkedInFiles().filter((f) => f.startsWith(`${pattern}/`) && !f.endsWith('mesh-config.yaml'))).map((f) => join(ISTIO_DIR, f));

describe('istioctl analyze --use-kube=false (the mesh config, no cluster)', () => {
  it.each(PATTERNS)('istio/base with the %s overlay: no error, no warning', async (pattern) => {
    const result = await analyze(pattern, [...base, ...overlay(pattern)]);
    expect(actionable(result.messages), result.output).toEqual([]);
  });

  it('both overlays\' Istio objects together (one mesh, both patterns): no error, no warning, no deprecation', async () => {
    const istioObjects = (pattern: string) => overlay(pattern).filter((f) => !/networkpolicy|toolgate-config/.test(f));
    const result = await analyze('both', [...base, ...istio('sidecar/toolgate-config.yaml', 'sidecar/networkpolicy.yaml'), ...istioObjects('sidecar'), ...istioObjects('gateway')]);
    expect(actionable(result.messages), result.output).toEqual([]);
    expect(result.messages.filter((m) => /deprecat/i.test(m.message))).toEqual([]);
  });

  it('does report an error it should: a VirtualService bound to a Gateway that does not exist', async () => {
    const vs = parse(await readFile(join(ISTIO_DIR, 'gateway', 'virtualservice.yaml'), 'utf8')) as Loose;
    vs.spec.gateways = ['istio-system/nowhere'];
    await writeFile(join(dir, 'vs-nowhere.yaml'), stringify(vs));
    const result = await analyze('nowhere', [...base, join(dir, 'vs-nowhere.yaml'), ...istio('gateway/gateway.yaml')]);
    expect(result.messages.map((m) => `${m.level} ${m.code}`), result.output).toContain('Error IST0101');
  });
});
