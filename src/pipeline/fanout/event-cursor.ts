// Event ids of the gateway's event streams: one id that carries, per backend, the last event id that backend sent.

/**
 * `merged`: the client's standalone GET stream, which merges every backend's; resuming it resumes each backend
 * named and opens the others fresh. `request`: one routed call's stream; resuming it resumes that backend only.
 */
export type CursorKind = 'merged' | 'request';

export interface EventCursor {
  readonly kind: CursorKind;
  /** Backend → the last event id it sent on this stream. */
  readonly ids: ReadonlyMap<string, string>;
}

const PREFIX: Readonly<Record<CursorKind, string>> = { merged: 'tgm.', request: 'tgr.' };

/** base64url of a JSON object: no line break or NUL can reach the `id:` field, whatever the backends' ids hold. */
export function encodeCursor(cursor: EventCursor): string {
  return PREFIX[cursor.kind] + Buffer.from(JSON.stringify(Object.fromEntries(cursor.ids)), 'utf8').toString('base64url');
}

/**
 * The cursor a `Last-Event-ID` carries, or undefined when it is not one of ours. Not authenticated on purpose:
 * it only names event ids the client's own backend sessions are asked to resume after, which a client talking
 * to a server directly sends as it likes; backends outside the session are dropped by the caller.
 */
export function decodeCursor(text: string | undefined): EventCursor | undefined {
  if (text === undefined) return undefined;
  const kind = (Object.keys(PREFIX) as CursorKind[]).find((k) => text.startsWith(PREFIX[k]));
  if (kind === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text.slice(PREFIX[kind].length), 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const ids = new Map<string, string>();
  for (const [backend, id] of Object.entries(parsed)) {
    if (typeof id !== 'string') return undefined;
    ids.set(backend, id);
  }
  return { kind, ids };
}
