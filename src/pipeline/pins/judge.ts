// Judges one backend's list items against their approved definitions: what to hide, and the record of every change.
import type { Logger } from 'pino';
import { attempt, type PinSighting } from '../../ports/store/port.js';
import type { Deps } from '../../ports/deps.js';
import { definitionDigest, PIN_KEY, type PinKind } from '../../core/pins/digest.js';
import { pinScope, type PinSettings } from '../../core/pins/settings.js';
import { pinWatch } from './watch.js';

const NOTHING: ReadonlySet<string> = new Set();

/**
 * The names (uriTemplates for templates) of `items` that must not be shown: with `enforce`, those whose definition
 * differs from the approved one or was seen changed against it, and — with `unpinned: refuse` — those the config
 * does not pin. `learn` hides nothing; it records first sights and logs changes. When the store cannot answer,
 * an enforcing backend shows only what the config pins and matches (fail closed); a learning one shows everything.
 */
export async function judgeList(
  settings: PinSettings,
  { store, metrics }: Deps,
  log: Logger,
  backend: string,
  kind: PinKind,
  items: readonly unknown[],
): Promise<ReadonlySet<string>> {
  const pins = settings.backends.get(backend);
  if (pins === undefined) return NOTHING;
  const enforce = pins.mode === 'enforce';
  const key = PIN_KEY[kind];
  const pinned = pins.pinned[kind];
  const hidden = new Set<string>();
  const sightings: PinSighting[] = [];
  for (const item of items) {
    if (typeof item !== 'object' || item === null) continue;
    const name = (item as Record<string, unknown>)[key];
    if (typeof name !== 'string') continue;
    const sighting = { name, digest: definitionDigest(kind, item as Record<string, unknown>), pinned: pinned.get(name) };
    if (enforce && pins.unpinned === 'refuse' && sighting.pinned === undefined) {
      hidden.add(name);
      log.info({ event: 'pins.unpinned', backend, kind, name, seen: sighting.digest, action: 'hidden' }, `${kind} ${name} of ${backend} hidden: the config pins no definition for it`);
      metrics.countPinChange(backend, kind, 'unpinned');
      continue;
    }
    sightings.push(sighting);
  }
  if (sightings.length === 0) return hidden;
  const scope = pinScope(backend, kind);
  const judged = await attempt(store.judgePins(scope, sightings, { learn: pins.mode === 'learn' || pins.unpinned === 'learn', mark: enforce }));
  if (!judged.ok) {
    metrics.countStoreError('pins');
    log.warn({ event: 'pins.unchecked', backend, kind, error: judged.detail, enforce }, 'cannot check pinned definitions: the store did not answer');
    if (enforce) for (const s of sightings) if (s.pinned === undefined || s.pinned !== s.digest) hidden.add(s.name);
    return hidden;
  }
  const watch = pinWatch(store);
  judged.value.forEach((verdict, i) => {
    const s = sightings[i];
    if (s === undefined || !verdict.changed || verdict.approved === undefined) return;
    const action = enforce ? 'hidden' : 'observed';
    if (enforce) {
      hidden.add(s.name);
      watch.note(scope, s.name, verdict.approved);
    }
    // The audit of a rug pull: which definition was approved, which one the backend showed, and what toolgate did.
    log.warn(
      { event: 'pins.changed', backend, kind, name: s.name, approved: verdict.approved, seen: s.digest, source: s.pinned === undefined ? 'learned' : 'config', action },
      `${kind} ${s.name} of ${backend}: definition changed since it was approved (${action})`,
    );
    metrics.countPinChange(backend, kind, action);
  });
  return hidden;
}
