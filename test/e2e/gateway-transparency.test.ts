// Acceptance (issue 12): gateway mode is as transparent as sidecar mode. The sidecar transparency suite's scripted
// session (helpers/features.ts) gives the same transcript directly against the full-featured server and through the
// gateway (prefixes off, a second backend next to it), save for the named differences below, each of which the
// README's gateway section lists with its reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { templateVariant } from '../harness/envoy.js';
import type { RecordedRequest } from '../harness/mcp-server.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { bearer } from './helpers/client.js';
import {
  ELICITED, FEATURE_METHODS, FEATURE_PROMPTS, FEATURE_RESOURCES, FEATURE_TOOLS, HARNESS_TOOLS, ROOTS, SAMPLED,
  registerFeatures, runScenario, type TranscriptEntry,
} from './helpers/features.js';
import { BILLING, GATEWAY_TEMPLATE, INVENTORY, startGatewayStack, type GatewayStack, type ReplicaName } from './helpers/gateway-stack.js';
import type { TasksConfig } from './helpers/toolgate.js';

printLogsOnFailure();

const TASKS: TasksConfig = {
  // Everything the scenario uses, as in the sidecar suite: a difference is then the gateway's, never the policy's.
  everything: {
    tools: [...HARNESS_TOOLS, ...FEATURE_TOOLS].map((tool) => ({ tool })),
    prompts: [...FEATURE_PROMPTS],
    resources: [...FEATURE_RESOURCES],
    methods: [...FEATURE_METHODS],
  },
};

/**
 * Envoy's cached gRPC client for toolgate is dropped after 5 s idle (its minimum) instead of the rendered day, as in
 * gateway-long-call.test.ts: the scenario's long call then outlives it, which crashed Envoy before issue 12's fix.
 */
const shortClientCache = (text: string): string => text.replace(/max_cached_entry_idle_duration: \S+/, 'max_cached_entry_idle_duration: 5s');
/** 7 s: longer than the 5-s idle time plus the eviction timer's one-second granularity. */
const LONG_CALL = { steps: 7, delayMs: 1_000 };

/**
 * The differences a gateway cannot avoid, one named rule each (README, "Gateway mode" → "What a client can tell").
 * Each rule rewrites BOTH transcripts the same way, so everything else still compares byte for byte.
 */
const RULES: ReadonlyArray<{ readonly name: string; readonly step: string; readonly apply: (outcome: unknown) => unknown }> = [
  {
    // The gateway is one MCP server in front of several: it answers initialize with its own serverInfo (the
    // client talks to the gateway, and no single backend's name would be true of the merged server).
    name: 'serverInfo is the gateway\'s',
    step: 'initialize',
    apply: (outcome) => ({ ...(outcome as Record<string, unknown>), server: '<the answering server>' }),
  },
  {
    // A backend numbers its requests to the client 0, 1, 2…; two backends number theirs alike, so the gateway
    // gives each an id that names its backend and session (`billing:<tag>:0`) and restores the backend's own id on
    // the client's reply. Kept: how many requests there were and which ids are the same, i.e. the id's identity.
    name: 'server request ids are the gateway\'s',
    step: 'ids of the server\'s requests',
    apply: (outcome) => {
      const ids = outcome as unknown[];
      return ids.map((id) => `<server request ${ids.indexOf(id)}>`);
    },
  },
];

function applyRules(transcript: readonly TranscriptEntry[]): TranscriptEntry[] {
  return transcript.map((entry) => RULES.reduce(
    (e, rule) => (e.step === rule.step ? { step: e.step, outcome: rule.apply(e.outcome) } : e),
    entry,
  ));
}

let stack: GatewayStack;
let removeTemplate: (() => Promise<void>) | undefined;
let jwt: string;
beforeAll(async () => {
  const variant = await templateVariant(GATEWAY_TEMPLATE, shortClientCache);
  removeTemplate = variant.remove;
  stack = await startGatewayStack({
    envoyTemplate: variant.path,
    // Below the shortened cache: a routed call's stream that waits for Envoy's half-close longer would outlive it.
    extProcCloseWait: '2s',
    prefixMode: 'never',
    tasks: TASKS,
    // billing is the full-featured server; inventory is the second backend, the plain harness server.
    replicaOptions: (name) => (BILLING.includes(name) ? { extend: registerFeatures } : {}),
  });
  jwt = await stack.idp.mint({ authorized_tasks: ['everything'] });
});
afterAll(async () => {
  await stack?.stop();
  await removeTemplate?.();
});

const outcome = (transcript: readonly TranscriptEntry[], step: string): unknown => transcript.find((e) => e.step.startsWith(step))?.outcome;
/** What the replicas of one backend received, oldest first per replica. */
const receivedBy = (names: readonly ReplicaName[]): RecordedRequest[] => names.flatMap((n) => stack.replicas[n].requests);

describe('one MCP session through every feature, directly and through the gateway (prefixes off)', () => {
  let direct: TranscriptEntry[];
  let proxied: TranscriptEntry[];
  beforeAll(async () => {
    direct = await runScenario(stack.replicas.b1.url, { longCall: LONG_CALL });
    for (const name of [...BILLING, ...INVENTORY]) stack.replicas[name].clearRequests();
    proxied = await runScenario(stack.endpoint, { headers: bearer(jwt), longCall: LONG_CALL });
  }, 120_000);

  it('works directly against the MCP server (the reference transcript is a real one)', () => {
    expect(direct.filter((e) => typeof e.outcome === 'object' && e.outcome !== null && 'error' in e.outcome)).toEqual([]);
    expect(outcome(direct, 'standalone GET stream')).toEqual({ delivered: true });
    const said = (SAMPLED.content as { text: string }).text;
    expect(outcome(direct, 'tools/call sample → sampling/createMessage (request')).toMatchObject({ result: { content: [{ text: said }] } });
    expect(outcome(direct, 'tools/call sample → sampling/createMessage (standalone')).toMatchObject({ result: { content: [{ text: said }] } });
    expect(outcome(direct, 'tools/call ask')).toMatchObject({ result: { structuredContent: { action: 'accept', content: ELICITED.content } } });
    expect(outcome(direct, 'tools/call roots')).toMatchObject({ result: { structuredContent: ROOTS }, asked: 1 });
    expect(outcome(direct, 'resources/read cities://fr/lyon')).toMatchObject({ contents: [{ uri: 'cities://fr/lyon' }] });
    expect(outcome(direct, 'tools/call chatty')).toMatchObject({
      logs: ['info', 'notice', 'warning', 'error'].map((level) => ({ level, logger: 'chatty' })),
    });
    expect(outcome(direct, 'completion/complete template')).toMatchObject({ completion: { values: ['lyon', 'lille'] } });
    expect(outcome(direct, 'resources/subscribe')).toMatchObject({ updated: [{ uri: 'cities://fr/lyon' }] });
    expect(outcome(direct, 'tools/call slow (long call)')).toMatchObject({
      progress: Array.from({ length: LONG_CALL.steps }, (_, i) => i + 1),
    });
    expect(outcome(direct, 'DELETE')).toEqual({ sessionCleared: true, statusAfterDelete: 404 });
  });

  it('gives the identical transcript through the gateway, up to the named differences', () => {
    expect(applyRules(proxied)).toEqual(applyRules(direct));
  });

  it('differs in the named places, and only as the rules say', () => {
    // The rules are not vacuous: each one rewrites a value that really differs.
    expect(outcome(proxied, 'initialize')).toMatchObject({ server: { name: 'toolgate' } });
    expect(outcome(direct, 'initialize')).toMatchObject({ server: { name: 'toolgate-demo' } });
    expect(outcome(direct, 'ids of the server')).toEqual([0, 1, 2, 3]);
    const ids = outcome(proxied, 'ids of the server') as unknown[];
    expect(ids).toEqual([...Array(4)].map(() => expect.stringMatching(/^billing:/)));
    expect(new Set(ids).size).toBe(4);
  });

  it('kept Envoy serving after the call that outlived its gRPC client cache', async () => {
    expect(stack.envoy.isRunning()).toBe(true);
    expect(stack.envoy.logs()).not.toMatch(/Caught Segmentation fault|backtrace/i);
    expect(await stack.envoy.stat('http.mcp.ext_proc.streams_failed')).toBe(0);
  });

  it('fanned logging/setLevel out to the second backend and merged its GET stream too', () => {
    for (const backend of [BILLING, INVENTORY]) {
      const got = receivedBy(backend);
      expect(got.filter((r) => r.rpcMethod === 'logging/setLevel').map((r) => (r.body as { params: unknown }).params)).toEqual([{ level: 'info' }]);
      // toolgate's events server opened each backend's stream through Envoy, with that backend's session.
      expect(got.filter((r) => r.httpMethod === 'GET').length).toBeGreaterThan(0);
    }
  });

  it('gave each client reply back to billing under billing\'s own id', () => {
    const asked = new Set(receivedBy(BILLING).filter((r) => r.httpMethod === 'POST' && r.rpcMethod === undefined).map((r) => r.rpcId));
    // The SDK server numbers its requests to the client from 0 per session; the replies carry those ids again.
    expect(asked).toEqual(new Set([0, 1, 2, 3]));
    const replies = receivedBy(BILLING).filter((r) => r.httpMethod === 'POST' && r.rpcMethod === undefined).map((r) => r.body);
    expect(replies).toEqual([
      expect.objectContaining({ result: expect.objectContaining({ model: SAMPLED.model }) }),
      expect.objectContaining({ result: expect.objectContaining({ model: SAMPLED.model }) }),
      expect.objectContaining({ result: ELICITED }),
      expect.objectContaining({ result: ROOTS }),
    ]);
    expect(receivedBy(INVENTORY).filter((r) => r.httpMethod === 'POST' && r.rpcMethod === undefined)).toEqual([]);
  });
});
