// Gateway mode's part of pinned definitions: judge each backend's list items before the merge shows them.
import type { Logger } from 'pino';
import type { Runtime } from '../../core/runtime.js';
import type { NameRef } from '../../core/mcp/names.js';
import type { PinKind } from '../../core/pins/digest.js';
import { judgeList } from '../pins/judge.js';
import type { Deps } from '../../ports/deps.js';

export type Hidden = ReadonlyMap<string, ReadonlySet<string>>;

/** Per backend with pins on, the names (uriTemplates) of its items not to show; empty when pins are off. */
export async function hiddenItems(runtime: Runtime, deps: Deps, log: Logger, kind: PinKind, items: ReadonlyMap<string, readonly unknown[]>): Promise<Hidden> {
  if (!runtime.pins.active) return new Map();
  const judged = await Promise.all(
    [...items].filter(([b]) => runtime.pins.backends.has(b)).map(async ([b, list]) => [b, await judgeList(runtime.pins, deps, log, b, kind, list)] as const),
  );
  return new Map(judged);
}

/** True when the exposed item's backend name is hidden (prefixing was decided over all names, before this). */
export function hiddenRef(hidden: Hidden, ref: NameRef | undefined): boolean {
  return ref !== undefined && (hidden.get(ref.backend)?.has(ref.name) ?? false);
}
