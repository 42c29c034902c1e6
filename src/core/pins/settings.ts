// Pins per backend, compiled once per config version: which lists are judged and which calls are checked.
import type { PinMode } from '../config/schema-pins.js';
import type { ParsedConfig } from '../config/schema.js';
import { compileNaming, resolveExposed, type NameRef, type NameSettings } from '../mcp/names.js';
import type { PinKind } from './digest.js';

/** The name a single backend has when the config names none (as in the session token: routing/sidecar.ts). */
const SOLE_BACKEND = '_';

/** The backend name pins use in a config with no `backends` (the sole backend). */
export function soleBackendName(): string {
  return SOLE_BACKEND;
}

export interface BackendPins {
  readonly mode: Exclude<PinMode, 'off'>;
  readonly unpinned: 'learn' | 'refuse';
  /** Config pins per kind: the backend's own name (uriTemplate for templates) → approved digest. */
  readonly pinned: Readonly<Record<PinKind, ReadonlyMap<string, string>>>;
}

export interface PinSettings {
  /** Some backend's lists are judged (learn or enforce). When false nothing pin-related runs anywhere. */
  readonly active: boolean;
  /** Some backend enforces: ext_authz checks tools/call and prompts/get against the changed marks. */
  readonly enforcing: boolean;
  /** Backends with pins on; a backend that is not here has them off. */
  readonly backends: ReadonlyMap<string, BackendPins>;
  /** Gateway mode's naming (more than one backend), to find which backend a called name belongs to. */
  readonly naming: NameSettings | undefined;
}

/** The store scope of one backend's items of one kind: `<backend>/<kind>` (backend names hold no `/`, `{` or `}`). */
export function pinScope(backend: string, kind: PinKind): string {
  return `${backend}/${kind}`;
}

export function compilePins(config: ParsedConfig): PinSettings {
  const names = Object.keys(config.backends);
  const entries: Array<[string, BackendPins]> = [];
  const add = (backend: string, pins: ParsedConfig['backendPins']) => {
    if (pins === undefined || pins.mode === 'off') return;
    entries.push([
      backend,
      Object.freeze({
        mode: pins.mode,
        unpinned: pins.unpinned,
        pinned: Object.freeze({ tools: new Map(Object.entries(pins.tools)), prompts: new Map(Object.entries(pins.prompts)), resourceTemplates: new Map(Object.entries(pins.resourceTemplates)) }),
      }),
    ]);
  };
  if (names.length === 0) add(SOLE_BACKEND, config.backendPins);
  for (const name of names) add(name, config.backends[name]?.pins);
  const backends = new Map(entries);
  return Object.freeze({
    active: backends.size > 0,
    enforcing: [...backends.values()].some((b) => b.mode === 'enforce'),
    backends,
    // checkGateway (config/load.ts) has already refused naming that does not compile.
    naming: names.length > 1 && backends.size > 0 ? compileNaming(config.backends) : undefined,
  });
}

/**
 * The enforcing backends a called tool or prompt name may belong to. Sidecar: the one backend, same name. Gateway: the
 * backend its prefix names, and — for a bare name — every backend that shows bare names (prefixMode never or
 * collision); a bare name two such backends share is checked against both, which can only refuse more, never less.
 */
export function pinCandidates(settings: PinSettings, called: string): NameRef[] {
  const enforcing = (backend: string) => settings.backends.get(backend)?.mode === 'enforce';
  if (settings.naming === undefined) {
    const [sole] = settings.backends.keys();
    return sole !== undefined && enforcing(sole) ? [{ backend: sole, name: called }] : [];
  }
  const refs: NameRef[] = [];
  const prefixed = resolveExposed(called, settings.naming);
  if (prefixed && enforcing(prefixed.backend)) refs.push(prefixed);
  for (const [backend, naming] of settings.naming.backends) {
    if (naming.mode !== 'always' && enforcing(backend)) refs.push({ backend, name: called });
  }
  return refs;
}
