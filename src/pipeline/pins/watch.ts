// What ext_authz knows about changed definitions: the store's marks, cached per process for a short window.
//
// A tools/call carries no definition; the list is what was judged. ext_authz needs the set of items some replica
// saw changed, without a store round trip per call: the marks of a scope are fetched at most once per
// PIN_MARKS_TTL_MS (single flight), and a mark this process writes itself is known at once. So a change one
// replica saw is refused by every replica within PIN_MARKS_TTL_MS (docs/pins.md).
import { attempt, type Store } from '../../ports/store/port.js';

export const PIN_MARKS_TTL_MS = 1000;

export type MarksResult = { readonly ok: true; readonly marks: ReadonlyMap<string, string> } | { readonly ok: false; readonly detail: string };

export interface PinWatch {
  /** A mark this process just wrote to the store: effective here before the next fetch. */
  note(scope: string, name: string, approved: string): void;
  /** Item name → the approved digest its definition departed from (store marks and this process's own). */
  marks(scope: string): Promise<MarksResult>;
}

interface Fetched {
  marks: ReadonlyMap<string, string>;
  at: number;
}

// Cache: one PinWatch per Store (the store's changed marks, fetched at most once per PIN_MARKS_TTL_MS, and the marks this
// process wrote). Keyed weakly by the store, so bounded by the stores still open (one per app), each holding one entry
// per pinned backend and kind; safe to share because the store is the truth, the cache lags it by at most
// PIN_MARKS_TTL_MS, and ext_proc's notes must meet ext_authz's reads (both run in the app that owns the store).
const watches = new WeakMap<Store, PinWatch>();

/** One watch per store, so ext_proc's notes and ext_authz's reads meet (both run in one process). */
export function pinWatch(store: Store, now: () => number = Date.now): PinWatch {
  let watch = watches.get(store);
  if (watch === undefined) watches.set(store, (watch = createPinWatch(store, now)));
  return watch;
}

export function createPinWatch(store: Store, now: () => number = Date.now): PinWatch {
  const fetched = new Map<string, Fetched>();
  const pending = new Map<string, Promise<MarksResult>>();
  /** Own notes with the time they were made; a fetch that started later includes them, so it drops them. */
  const notes = new Map<string, Map<string, { approved: string; at: number }>>();

  const merged = (scope: string, base: ReadonlyMap<string, string>): ReadonlyMap<string, string> => {
    const own = notes.get(scope);
    if (own === undefined || own.size === 0) return base;
    const all = new Map(base);
    for (const [name, n] of own) all.set(name, n.approved);
    return all;
  };

  const fetch = (scope: string): Promise<MarksResult> => {
    const inFlight = pending.get(scope);
    if (inFlight) return inFlight;
    const started = now();
    const run = attempt(store.pinMarks(scope)).then((r): MarksResult => {
      pending.delete(scope);
      if (!r.ok) return r;
      fetched.set(scope, { marks: r.value, at: started });
      const own = notes.get(scope);
      if (own) for (const [name, n] of own) if (n.at < started) own.delete(name);
      return { ok: true, marks: merged(scope, r.value) };
    });
    pending.set(scope, run);
    return run;
  };

  return {
    note(scope, name, approved) {
      let own = notes.get(scope);
      if (own === undefined) notes.set(scope, (own = new Map()));
      own.set(name, { approved, at: now() });
    },
    async marks(scope) {
      const last = fetched.get(scope);
      if (last !== undefined && now() - last.at < PIN_MARKS_TTL_MS) return { ok: true, marks: merged(scope, last.marks) };
      return fetch(scope);
    },
  };
}
