// The learned tool catalogue is per runtime: two configs never share it, and a reload starts with an empty one.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { buildRuntime, loadConfigFile, parseConfigText, type Runtime } from '../../src/app/runtime/load.js';
import { holdRuntime } from '../../src/app/runtime/watch.js';
import { createToolCatalog, MAX_CATALOG_TOOLS } from '../../src/core/mcp/catalog.js';
import { classify } from '../../src/core/mcp/message.js';
import type { Deny } from '../../src/core/policy/decision.js';
import { denyReply } from '../../src/pipeline/authz/http-reply.js';
import type { AuthzContext } from '../../src/pipeline/extproc/exchange.js';
import { sidecarExchange } from '../../src/pipeline/extproc/sidecar.js';
import { createMemoryStore } from '../../src/ports/store/memory.js';
import { createMetrics } from '../../src/ports/telemetry/metrics.js';
import { depsOf } from '../harness/deps.js';

const CONFIG = `resource: https://mcp.example.com/mcp
identity: { jwt: { issuer: https://auth.test, jwksUri: https://auth.test/jwks.json } }
tasks:
  t:
    tools:
      - tool: refund
`;
const SCHEMA = { type: 'object', properties: { refunded: { type: 'number' } } };
const silent = pino({ level: 'silent' });
const LISTING: AuthzContext = { subject: 'agent-7', task: 't', decisionId: 'd', method: 'tools/list', target: undefined, tasks: ['t'] };

/** A tools/list answer relayed through the sidecar exchange, as ext_proc sees it: what the runtime learns from. */
async function relayToolsList(runtime: Runtime, tools: unknown[]): Promise<void> {
  const exchange = sidecarExchange({ runtime, log: silent, ...depsOf(createMemoryStore()) }, LISTING);
  await exchange.requestHeaders({ headers: { ':method': 'POST', ':path': '/mcp' }, endOfStream: false });
  await exchange.responseHeaders({ headers: { ':status': '200', 'content-type': 'application/json' }, endOfStream: false });
  await exchange.responseBody(Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools } })), true);
}

/** The structuredContent of a condition-failed denial of `refund` under this runtime (undefined: left out). */
function denialStructured(runtime: Runtime): unknown {
  const call = classify({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'refund', arguments: {} } }) });
  const deny: Deny = { allow: false, reason: 'condition-failed', message: 'Refunds above 50 need a human. Do not retry.', task: 't', policy: 'tasks.t.tools[0].when' };
  const reply = denyReply(call, deny, 'result', 'd-1', runtime.catalog);
  return (JSON.parse(reply.body) as { result: { structuredContent?: unknown } }).result.structuredContent;
}

describe('the learned tool catalogue belongs to one runtime', () => {
  it('two runtimes (two configs in one process) do not share what they learned', async () => {
    const a = buildRuntime(parseConfigText(CONFIG, 'a.yaml'), 'a.yaml');
    const b = buildRuntime(parseConfigText(CONFIG, 'b.yaml'), 'b.yaml');
    expect(a.catalog).not.toBe(b.catalog);
    await relayToolsList(a, [{ name: 'refund', outputSchema: SCHEMA }]);

    expect(a.catalog.hasOutputSchema('refund')).toBe(true);
    // A learned the schema: its denial leaves the code out of structuredContent (the SDK would reject it).
    expect(denialStructured(a)).toBeUndefined();
    // B relayed no list: its denial for the same name keeps the machine-readable code.
    expect(b.catalog.hasOutputSchema('refund')).toBe(false);
    expect(denialStructured(b)).toMatchObject({ code: 'condition-failed' });
  });

  it('a reload starts with an empty catalogue; the replaced runtime keeps its own', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'toolgate-catalog-'));
    const file = path.join(dir, 'c.yaml');
    writeFileSync(file, CONFIG);
    const metrics = createMetrics();
    const holder = holdRuntime(loadConfigFile(file), silent, metrics, { watch: false });
    try {
      const before = holder.current();
      await relayToolsList(before, [{ name: 'refund', outputSchema: SCHEMA }]);
      expect(denialStructured(before)).toBeUndefined();

      expect(holder.reload()).toBe(true);
      const after = holder.current();
      expect(after.version).toBe(2);
      expect(after.catalog.hasOutputSchema('refund')).toBe(false);
      expect(denialStructured(after)).toMatchObject({ code: 'condition-failed' });
      expect(before.catalog.hasOutputSchema('refund')).toBe(true);
      // The reload was counted on the metrics handed to the holder, not on some process-wide registry.
      expect(await metrics.registry.getSingleMetricAsString('toolgate_config_reloads_total')).toContain('toolgate_config_reloads_total{result="success"} 1');
    } finally {
      holder.close();
    }
  });

  it('forgets a schema when a later list shows the tool without one, and stops recording at its bound', () => {
    const catalog = createToolCatalog();
    catalog.note([{ name: 'refund', outputSchema: SCHEMA }]);
    catalog.note([{ name: 'refund' }]);
    expect(catalog.hasOutputSchema('refund')).toBe(false);
    catalog.note(Array.from({ length: MAX_CATALOG_TOOLS + 1 }, (_, i) => ({ name: `t${i}`, outputSchema: SCHEMA })));
    expect(catalog.hasOutputSchema(`t${MAX_CATALOG_TOOLS - 1}`)).toBe(true);
    expect(catalog.hasOutputSchema(`t${MAX_CATALOG_TOOLS}`)).toBe(false);
  });
});
