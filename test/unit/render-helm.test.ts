// `toolgate render helm`: the chart's values carry the config and objects `toolgate render istio` writes, as lists and
// scalars only (Helm merges maps of two values files key by key, which would mix two configs).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { main } from '../../src/cli/main.js';
import { renderHelmValuesFile } from '../../src/cli/render/helm.js';
import { renderIstioFile } from '../../src/cli/render/istio.js';
import { REPO_ROOT } from '../harness/repo.js';
import { PATTERNS, type Loose } from '../harness/istio.js';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'toolgate-render-helm-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

const example = (pattern: string) => join(REPO_ROOT, 'examples', `${pattern}.yaml`);

describe.each(PATTERNS)('toolgate render helm, %s example', (pattern) => {
  const values = parse(renderHelmValuesFile(example(pattern), { source: 'x' })) as Loose;
  const istio = renderIstioFile(example(pattern), { source: 'x' });
  const docsOf = (path: string) => parseAllDocuments(istio.get(path) as string).map((d) => d.toJS() as Loose);

  it('has one key, rendered, holding only scalars and lists', () => {
    expect(Object.keys(values)).toEqual(['rendered']);
    for (const [k, v] of Object.entries(values.rendered)) expect(typeof v !== 'object' || Array.isArray(v), k).toBe(true);
  });

  it('carries the overlay\'s config files and the objects `render istio` writes for the pattern', () => {
    const config = docsOf(`${pattern}/toolgate-config.yaml`)[0];
    expect(Object.fromEntries(values.rendered.configFiles.map((f: Loose) => [f.name, f.content]))).toEqual(config.data);
    const files = ['networkpolicy.yaml', 'authorizationpolicy.yaml', 'envoyfilter.yaml',
      ...(pattern === 'gateway' ? ['destinationrules.yaml', 'gateway.yaml', 'virtualservice.yaml', 'egress.yaml', 'events.yaml'] : [])];
    const expected = [...files.flatMap((f) => docsOf(`${pattern}/${f}`)), ...docsOf('base/peerauthentication.yaml')];
    const key = (o: Loose) => `${o.kind}/${o.metadata.name}`;
    expect(values.rendered.objects.map((o: Loose) => key(o.object)).sort()).toEqual(expected.map(key).sort());
    for (const o of values.rendered.objects) expect(o.object, key(o.object)).toEqual(expected.find((e) => key(e) === key(o.object)));
    expect(values.rendered.extensionProviders).toEqual(docsOf(`${pattern}/mesh-config.yaml`)[0].spec.meshConfig.extensionProviders);
  });
});

describe('toolgate render helm (CLI)', () => {
  it('writes the values file to --out, for the namespace given', async () => {
    const out = join(dir, 'values.yaml');
    expect(await main(['render', 'helm', '--config', example('gateway'), '--namespace', 'mcp-policy', '--out', out])).toBe(0);
    const values = parse(await readFile(out, 'utf8')) as Loose;
    expect(values.rendered.namespace).toBe('mcp-policy');
    expect(values.rendered.configFiles[0].content).toContain('http://toolgate-egress.mcp-policy.svc.cluster.local');
  });

  it('needs --config (exit 2), and names a bad config (exit 1)', async () => {
    const error = console.error;
    console.error = () => {};
    try {
      expect(await main(['render', 'helm'])).toBe(2);
      expect(await main(['render', 'helm', '--config', '/nonexistent/toolgate.yaml'])).toBe(1);
    } finally {
      console.error = error;
    }
  });
});
