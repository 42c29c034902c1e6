// Regression (issue 12, points 1 and 2 together): a routed call whose event stream toolgate reads chunk by chunk (a
// client that takes server requests) keeps its ext_proc stream open for the whole call. Outliving Envoy's cached gRPC
// client for toolgate (5 s here, Envoy's minimum; 50 s by default) must not crash Envoy, with or without a server
// request in the middle of the call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { templateVariant } from '../harness/envoy.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { eventually } from '../harness/eventually.js';
import { GATEWAY_TEMPLATE, OPERATOR_CLAIMS, startGatewayStack, type GatewayStack } from './helpers/gateway-stack.js';
import { connectAnswering, newAskJournal, registerAskTools, type AnsweringClient } from './helpers/server-requests.js';

printLogsOnFailure();

const shortClientCache = (text: string): string => text.replace(/max_cached_entry_idle_duration: \S+/, 'max_cached_entry_idle_duration: 5s');
const STEPS = 8;
const STEP_MS = 1_000;

let stack: GatewayStack;
let agent: AnsweringClient;
let removeTemplate: (() => Promise<void>) | undefined;
beforeAll(async () => {
  const variant = await templateVariant(GATEWAY_TEMPLATE, shortClientCache);
  removeTemplate = variant.remove;
  const askTools = registerAskTools(newAskJournal());
  // extProcCloseWait below the shortened cache, as every config must keep it (docs/envoy.md, fact 26).
  stack = await startGatewayStack({ envoyTemplate: variant.path, extProcCloseWait: '2s', replicaOptions: (name) => ({ extend: (server) => askTools(server, name) }) });
  agent = await connectAnswering(stack.endpoint, await stack.idp.mint(OPERATOR_CLAIMS));
  // The client's GET stream opens its own (short) ext_proc stream; let it settle before the quiet long call.
  await eventually(() => Object.values(stack.replicas).filter((r) => r.requests.some((q) => q.httpMethod === 'GET')).length >= 2, 'the GET stream at both backends');
});
afterAll(async () => {
  await agent?.close();
  await stack?.stop();
  await removeTemplate?.();
});

async function expectEnvoyServing(): Promise<void> {
  const echoed = (await agent.client.callTool({ name: 'billing.echo', arguments: { text: 'after' } })) as CallToolResult;
  expect(echoed.isError ?? false).toBe(false);
  expect(stack.envoy.isRunning()).toBe(true);
  expect(stack.envoy.logs()).not.toMatch(/Caught Segmentation fault|backtrace/i);
  expect(await stack.envoy.stat('http.mcp.ext_proc.streams_failed')).toBe(0);
}

describe('gateway mode: a streamed call longer than the gRPC client cache idle time', () => {
  it('delivers every progress step and the result, and Envoy keeps serving', async () => {
    const progress: number[] = [];
    const result = (await agent.client.callTool({ name: 'billing.slow', arguments: { steps: STEPS, delay_ms: STEP_MS } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
      timeout: 60_000,
    })) as CallToolResult;
    expect(result.content).toEqual([{ type: 'text', text: `done after ${STEPS} steps` }]);
    expect(progress).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    await expectEnvoyServing();
  }, 60_000);
});
