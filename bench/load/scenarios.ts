// The five paths the benchmark compares (a–e), plus the Envoy-alone baseline for the 2026 path.
import type { EnvoyVariant } from './envoy.js';

export type ScenarioKey = 'a' | 'b' | 'c' | 'd' | 'e0' | 'e';
export type BackendKind = '2025' | '2026';

export interface Scenario {
  readonly key: ScenarioKey;
  readonly id: string;
  readonly title: string;
  /** undefined: the client talks to the backend directly. */
  readonly envoy: EnvoyVariant | undefined;
  readonly backend: BackendKind;
  /** Which request shape the client sends (2025: session + body; 2026: Mcp-Method / Mcp-Name headers). */
  readonly protocol: '2025' | '2026';
  /** The Envoy-alone scenario its added latency and throughput ratio are measured against. */
  readonly baseline: ScenarioKey | undefined;
}

export const SCENARIOS: readonly Scenario[] = [
  { key: 'a', id: 'a-direct', title: 'backend directly', envoy: undefined, backend: '2025', protocol: '2025', baseline: 'b' },
  { key: 'b', id: 'b-envoy', title: 'Envoy alone (router)', envoy: 'router', backend: '2025', protocol: '2025', baseline: undefined },
  { key: 'c', id: 'c-authz', title: 'Envoy + ext_authz', envoy: 'authz', backend: '2025', protocol: '2025', baseline: 'b' },
  { key: 'd', id: 'd-full', title: 'Envoy + ext_authz + ext_proc (2025, session token)', envoy: 'full', backend: '2025', protocol: '2025', baseline: 'b' },
  { key: 'e0', id: 'e0-envoy-2026', title: 'Envoy alone, 2026 headers (baseline for e)', envoy: 'router', backend: '2026', protocol: '2026', baseline: undefined },
  { key: 'e', id: 'e-fast-2026', title: 'Envoy + both filters, 2026 header-only fast path', envoy: 'full', backend: '2026', protocol: '2026', baseline: 'e0' },
];

/** One Envoy per (variant, backend) that some scenario uses. */
export function envoyInstances(scenarios: readonly Scenario[]): Array<{ readonly name: string; readonly variant: EnvoyVariant; readonly backend: BackendKind }> {
  const seen = new Map<string, { name: string; variant: EnvoyVariant; backend: BackendKind }>();
  for (const s of scenarios) {
    if (!s.envoy) continue;
    const name = envoyName(s);
    if (!seen.has(name)) seen.set(name, { name, variant: s.envoy, backend: s.backend });
  }
  return [...seen.values()];
}

export function envoyName(s: Scenario): string {
  return `${s.envoy ?? 'none'}-${s.backend}`;
}
