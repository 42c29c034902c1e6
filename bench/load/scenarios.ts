// The paths the benchmark compares (a–g), plus the Envoy-alone baseline for the 2026 path.
import type { EnvoyVariant } from './bootstrap.js';

export type ScenarioKey = 'a' | 'b' | 'c' | 'd' | 'e0' | 'e' | 'f' | 'g';
/** 2025: the harness SDK server; 2026: the 2026 stand-in; gateway: two harness SDK servers (billing, inventory). */
export type BackendKind = '2025' | '2026' | 'gateway';
/**
 * Which bootstrap the scenario's Envoy runs: a variant of the rendered sidecar file, the native floor (g), or the
 * rendered gateway file as is (f).
 */
export type EnvoyKind = EnvoyVariant | 'native' | 'gateway';
/** Which toolgate process serves the scenario's Envoy, if any. */
export type ToolgateKind = 'sidecar' | 'gateway';

export interface Scenario {
  readonly key: ScenarioKey;
  readonly id: string;
  readonly title: string;
  /** undefined: the client talks to the backend directly. */
  readonly envoy: EnvoyKind | undefined;
  readonly toolgate: ToolgateKind | undefined;
  readonly backend: BackendKind;
  /** Which request shape the client sends (2025: session + body; 2026: Mcp-Method / Mcp-Name headers). */
  readonly protocol: '2025' | '2026';
  /** The tools each client calls, in turn. */
  readonly tools: readonly string[];
  /** The Envoy-alone scenario its added latency and throughput ratio are measured against. */
  readonly baseline: ScenarioKey | undefined;
}

const ECHO = ['echo'];
/** What each (f) client calls, alternately: one tool per backend, so every call is routed by its prefix. */
export const GATEWAY_TOOLS: readonly string[] = ['billing.echo', 'inventory.echo'];

export const SCENARIOS: readonly Scenario[] = [
  { key: 'a', id: 'a-direct', title: 'backend directly', envoy: undefined, toolgate: undefined, backend: '2025', protocol: '2025', tools: ECHO, baseline: 'b' },
  { key: 'b', id: 'b-envoy', title: 'Envoy alone (router)', envoy: 'router', toolgate: undefined, backend: '2025', protocol: '2025', tools: ECHO, baseline: undefined },
  // (c), ext_authz without ext_proc, is gone: ext_authz now opens the client's sealed session token itself, and without
  // ext_proc nobody seals one at initialize, so every later call is refused (404). (d) is now one Check per tools/call,
  // which is what (c) priced.
  { key: 'd', id: 'd-full', title: 'Envoy + ext_authz + ext_proc (2025, session token)', envoy: 'full', toolgate: 'sidecar', backend: '2025', protocol: '2025', tools: ECHO, baseline: 'b' },
  { key: 'e0', id: 'e0-envoy-2026', title: 'Envoy alone, 2026 headers (baseline for e)', envoy: 'router', toolgate: undefined, backend: '2026', protocol: '2026', tools: ECHO, baseline: undefined },
  { key: 'e', id: 'e-fast-2026', title: 'Envoy + both filters, 2026 header-only fast path', envoy: 'full', toolgate: 'sidecar', backend: '2026', protocol: '2026', tools: ECHO, baseline: 'e0' },
  { key: 'f', id: 'f-gateway', title: 'gateway mode: two backends, prefixed tools, both filters (2025)', envoy: 'gateway', toolgate: 'gateway', backend: 'gateway', protocol: '2025', tools: GATEWAY_TOOLS, baseline: 'b' },
  { key: 'g', id: 'g-native', title: "native floor: Envoy's MCP filter + RBAC allow-list, no toolgate", envoy: 'native', toolgate: undefined, backend: '2025', protocol: '2025', tools: ECHO, baseline: 'b' },
];

export const SCENARIO_KEYS: readonly ScenarioKey[] = SCENARIOS.map((s) => s.key);

/** One Envoy per (bootstrap, backend) that some scenario uses. */
export function envoyInstances(scenarios: readonly Scenario[]): Array<{ readonly name: string; readonly envoy: EnvoyKind; readonly backend: BackendKind }> {
  const seen = new Map<string, { name: string; envoy: EnvoyKind; backend: BackendKind }>();
  for (const s of scenarios) {
    if (!s.envoy) continue;
    const name = envoyName(s);
    if (!seen.has(name)) seen.set(name, { name, envoy: s.envoy, backend: s.backend });
  }
  return [...seen.values()];
}

export function envoyName(s: Scenario): string {
  return `${s.envoy ?? 'none'}-${s.backend}`;
}
