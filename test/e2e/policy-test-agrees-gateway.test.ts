// `toolgate test` against the real gateway: every case of examples/gateway.test.yaml is run through runCase (the
// CLI's verdict) and sent through the pinned Envoy (envoy/gateway.yaml) + built toolgate + billing and inventory MCP
// backends; both must agree call by call, a denied call must reach no backend and an allowed one exactly one request
// on the backend its prefix names (issue 14, gateway mode).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { z } from 'zod';
import { parse } from 'yaml';
import type { RawConfig } from '../../src/core/config/schema.js';
import { loadCaseFile } from '../../src/cli/policytest/cases.js';
import { REPO_ROOT } from '../harness/repo.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { BILLING, GATEWAY_EXAMPLE, INVENTORY, startGatewayStack, type GatewayStack, type ReplicaName } from './helpers/gateway-stack.js';
import { checkCase, type AgreeTarget } from './helpers/policy-agree.js';

printLogsOnFailure();

const CASE_FILE = 'gateway.test.yaml';

/** Inventory tools the example's tasks name (billing's lookup_charge and refund are the harness server's own). */
function inventoryFeatures(server: McpServer): void {
  const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });
  server.registerTool('check_stock', { description: 'Reports the stock of a SKU.', inputSchema: { sku: z.string() } }, ({ sku }) => text(`${sku}: 12 in stock`));
  server.registerTool('set_stock', { description: 'Sets the stock of a SKU.', inputSchema: { sku: z.string(), count: z.number() } }, ({ sku, count }) => text(`${sku}: set to ${count}`));
}

/** A gateway tool name is `<backend>.<tool>` (the example's prefixMode is `always`): the prefix names the backend. */
function backendOf(request: { method: string; params?: Record<string, unknown> }): string {
  const name = request.params?.name;
  if (request.method !== 'tools/call' || typeof name !== 'string' || !name.includes('.')) {
    throw new Error(`no backend known for ${request.method} ${String(name)}: extend backendOf for it`);
  }
  return name.slice(0, name.indexOf('.'));
}

const caseFile = loadCaseFile(join(REPO_ROOT, 'examples', CASE_FILE));
const configFile = caseFile.config;
if (configFile !== GATEWAY_EXAMPLE) throw new Error(`${CASE_FILE} tests ${String(configFile)}, the gateway stack serves ${GATEWAY_EXAMPLE}`);

describe(`${CASE_FILE} (gateway.yaml): toolgate test and the real gateway agree`, () => {
  let s: GatewayStack;
  beforeAll(async () => {
    // The stack already serves examples/gateway.yaml's backends, identity.task and policy on its own IdP and ports;
    // only the tasks are the test's choice, so give it the example's.
    const example = parse(readFileSync(GATEWAY_EXAMPLE, 'utf8')) as RawConfig;
    if (!example.tasks) throw new Error('examples/gateway.yaml has no tasks');
    s = await startGatewayStack({
      tasks: example.tasks,
      replicaOptions: (name) => (INVENTORY.includes(name) ? { extend: inventoryFeatures } : {}),
    });
  }, 120_000);
  afterAll(async () => {
    await s?.stop();
  });

  const requestsOf = (names: readonly ReplicaName[]) => names.flatMap((n) => s.replicas[n].requests);
  const target = (): AgreeTarget => ({
    endpoint: s.endpoint,
    idp: s.idp,
    decisions: () => s.toolgate.records().filter((r) => r.event === 'decision'),
    backends: () => ({ billing: requestsOf(BILLING), inventory: requestsOf(INVENTORY) }),
    backendOf,
  });

  caseFile.cases.forEach((c, index) => {
    it(c.name, async () => {
      await checkCase(target(), configFile, c, index);
    }, 60_000);
  });
});
