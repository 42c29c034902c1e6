// What every gateway exchange of one config version shares: the egress client, naming rules, and the name index.
import type { Runtime } from '../../core/runtime.js';
import { durationMs } from '../../core/config/duration.js';
import { createEgressClient, type EgressClient } from '../fanout/egress.js';
import { compileNaming, type NameRef, type NameSettings } from '../../core/mcp/names.js';
import { EMPTY_TEMPLATE_INDEX, type TemplateIndex } from '../fanout/templates.js';
import { listIdSequence, type ListIds } from '../fanout/pages.js';

/**
 * Envoy ring-hashes backend requests on this header. Its value is the client session's token id, so every
 * request of one session — the initialize fan-out included — lands on the same replica of each backend.
 */
export const AFFINITY_HEADER = 'x-toolgate-affinity';

/**
 * Client-facing names and URIs → backend, from the last merged lists this process served. Only a cache:
 * `always` prefixes resolve without it, and a miss triggers a fresh list (another replica may have served it).
 */
export interface NameIndex {
  tools: ReadonlyMap<string, NameRef>;
  prompts: ReadonlyMap<string, NameRef>;
  resources: ReadonlyMap<string, string>;
  /** Resource templates → backend, from the last `resources/templates/list`: routes reads of URIs they expand to. */
  templates: TemplateIndex;
}

export interface GatewayContext {
  readonly runtime: Runtime;
  readonly egress: EgressClient;
  readonly naming: NameSettings;
  readonly backends: readonly string[];
  readonly index: NameIndex;
  /** The JSON-RPC ids of this config version's list requests to backends, counted from 1. */
  readonly listIds: ListIds;
}

// Cache: the gateway context of each Runtime, built on first use instead of with the runtime (core cannot build pipeline
// values): egress client, naming, backends, the name index learned from the lists served under that config, and its
// list-request id sequence. Keyed weakly by the runtime, so bounded by the runtimes still referenced, and a reload gets
// a fresh one; safe to share because what it holds is scoped exactly like the Runtime it hangs off: derived from that
// config, or (index, ids) learned under it, where the index is only a routing hint (a miss refreshes it from the backends).
const contexts = new WeakMap<Runtime, GatewayContext>();

/** One context per runtime version: a reload gets fresh naming and egress settings, derived once. */
export function gatewayContext(runtime: Runtime): GatewayContext {
  const existing = contexts.get(runtime);
  if (existing) return existing;
  const { config } = runtime;
  if (!config.egress) throw new Error('gateway mode needs `egress.url` (Envoy egress listener)');
  const context: GatewayContext = {
    runtime,
    egress: createEgressClient({ baseUrl: config.egress.url, timeoutMs: durationMs(config.egress.timeout) }),
    naming: compileNaming(config.backends),
    backends: Object.keys(config.backends).sort(),
    index: { tools: new Map(), prompts: new Map(), resources: new Map(), templates: EMPTY_TEMPLATE_INDEX },
    listIds: listIdSequence(),
  };
  contexts.set(runtime, context);
  return context;
}

export function backendPath(runtime: Runtime, backend: string): string | undefined {
  return runtime.config.backends[backend]?.path;
}
