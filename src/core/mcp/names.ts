// Gateway-mode tool/prompt names: which backend name a client sees, and which backend a name routes to.

/**
 * Between prefix and name: `billing.refund`. `.` is one of the characters the 2025-11-25 spec allows
 * in tool names ([A-Za-z0-9_.-]), and backend names cannot contain it (config: letters, digits,
 * `-`, `_`), so splitting on the FIRST `.` always yields the whole prefix even when the backend's
 * own name has dots (`fs.read.file` → prefix `fs`, name `read.file`). `__` was rejected: prefixes
 * and tool names both contain `_` freely, so `a__b__c` has no single reading.
 */
export const NAME_SEPARATOR = '.';

export type PrefixMode = 'always' | 'collision' | 'never';

export interface BackendNaming {
  readonly prefix: string;
  readonly mode: PrefixMode;
}

/** Compiled once at start-up by `compileNaming`; lookups in both directions are map reads. */
export interface NameSettings {
  readonly backends: ReadonlyMap<string, BackendNaming>;
  /** prefix → backend, for backends whose names can carry a prefix (`always`, `collision`). */
  readonly byPrefix: ReadonlyMap<string, string>;
}

/** A name as the backend itself knows it. */
export interface NameRef {
  readonly backend: string;
  readonly name: string;
}

export type ConflictHandler = (exposed: string, kept: NameRef, dropped: NameRef) => void;

const PREFIX_CHARS = /^[A-Za-z0-9_-]+$/;

/**
 * Builds the settings from the config's `backends` section (`toolPrefix` defaults to the backend
 * name, `prefixMode` to `always`). Throws on a prefix that could not be split back off or that two
 * backends share: that is a start-up error, never something to discover per request.
 */
export function compileNaming(
  backends: Readonly<Record<string, { readonly toolPrefix?: string | undefined; readonly prefixMode?: PrefixMode | undefined }>>,
): NameSettings {
  const byBackend = new Map<string, BackendNaming>();
  const byPrefix = new Map<string, string>();
  for (const [backend, cfg] of Object.entries(backends)) {
    const naming: BackendNaming = { prefix: cfg.toolPrefix ?? backend, mode: cfg.prefixMode ?? 'always' };
    if (!PREFIX_CHARS.test(naming.prefix)) {
      throw new Error(`backend ${backend}: tool prefix "${naming.prefix}" may use only letters, digits, - and _`);
    }
    byBackend.set(backend, naming);
    if (naming.mode === 'never') continue;
    const other = byPrefix.get(naming.prefix);
    if (other !== undefined) throw new Error(`backends ${other} and ${backend} share the tool prefix "${naming.prefix}"`);
    byPrefix.set(naming.prefix, backend);
  }
  return { backends: byBackend, byPrefix };
}

/** A backend the settings do not know gets the config defaults: its own name as prefix, `always`. */
function namingOf(settings: NameSettings, backend: string): BackendNaming {
  return settings.backends.get(backend) ?? { prefix: backend, mode: 'always' };
}

/** Backends in code-point order, so merged output never depends on which backend answered first. */
export function sortedBackends<T>(perBackend: ReadonlyMap<string, T>): string[] {
  return [...perBackend.keys()].sort(compareText);
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Maps every exposed name to the backend name behind it. In `collision` mode a name is prefixed
 * when another backend would also show it bare (its mode is `never` or `collision`); an `always`
 * backend's names are prefixed anyway and so cannot clash with a bare name. Two entries that still
 * end up with the same exposed name (e.g. two `never` backends): the first backend in code-point
 * order keeps it, the other is unreachable and reported to `onConflict`.
 */
export function exposeNames(
  lists: ReadonlyMap<string, readonly string[]>,
  settings: NameSettings,
  onConflict?: ConflictHandler,
): Map<string, NameRef> {
  const bareOwners = new Map<string, number>();
  for (const [backend, names] of lists) {
    if (namingOf(settings, backend).mode === 'always') continue;
    for (const name of new Set(names)) bareOwners.set(name, (bareOwners.get(name) ?? 0) + 1);
  }
  const exposed = new Map<string, NameRef>();
  for (const backend of sortedBackends(lists)) {
    const naming = namingOf(settings, backend);
    for (const name of [...new Set(lists.get(backend))].sort(compareText)) {
      const prefixed = naming.mode === 'always' || (naming.mode === 'collision' && (bareOwners.get(name) ?? 0) > 1);
      const key = prefixed ? `${naming.prefix}${NAME_SEPARATOR}${name}` : name;
      const ref: NameRef = { backend, name };
      const kept = exposed.get(key);
      if (kept === undefined) exposed.set(key, ref);
      else onConflict?.(key, kept, ref);
    }
  }
  return exposed;
}

/**
 * Which backend name a client-facing name routes to. `known` is the map from the last merged list
 * (any replica may lack it); it wins because it is exactly what the client was shown. Without it,
 * a name whose text before the first separator is a known prefix routes by that prefix — that is
 * the whole answer for `always` backends, and a prefixed `collision` name is unambiguous too.
 * A bare name of a `never`/`collision` backend needs `known`. Undefined means "no such name".
 */
export function resolveExposed(
  exposed: string,
  settings: NameSettings,
  known?: ReadonlyMap<string, NameRef>,
): NameRef | undefined {
  const cached = known?.get(exposed);
  if (cached !== undefined) return cached;
  const cut = exposed.indexOf(NAME_SEPARATOR);
  if (cut <= 0 || cut === exposed.length - 1) return undefined;
  const backend = settings.byPrefix.get(exposed.slice(0, cut));
  return backend === undefined ? undefined : { backend, name: exposed.slice(cut + NAME_SEPARATOR.length) };
}
