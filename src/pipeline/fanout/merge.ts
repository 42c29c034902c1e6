// Pure merges of several backends' answers into the one answer a gateway client sees.
import { isObject } from '../../core/mcp/message.js';
import { exposeNames, sortedBackends, type ConflictHandler, type NameRef, type NameSettings } from '../../core/mcp/names.js';

export interface GatewayInfo {
  readonly name: string;
  readonly version: string;
  readonly title?: string;
}

/** The server capabilities a gateway can stand behind by routing; see `mergeInitialize`. */
export interface MergedCapabilities {
  logging?: Record<string, never>;
  completions?: Record<string, never>;
  prompts?: { listChanged?: boolean };
  resources?: { subscribe?: boolean; listChanged?: boolean };
  tools?: { listChanged?: boolean };
  tasks?: MergedTasks;
}

/** The server's `tasks` capability (2025-11-25): each part is offered when any backend offers it. */
export interface MergedTasks {
  list?: Record<string, never>;
  cancel?: Record<string, never>;
  requests?: { tools?: { call?: Record<string, never> } };
}

export interface MergedInitialize {
  readonly protocolVersion: string;
  readonly capabilities: MergedCapabilities;
  readonly serverInfo: GatewayInfo;
  readonly instructions?: string;
}

export interface MergedDiscover {
  readonly supportedVersions: string[];
  readonly capabilities: MergedCapabilities;
  readonly instructions?: string;
}

/**
 * `server/discover` (2026-07-28) for several backends: the revisions every answering backend offers among `known`
 * (in `known`'s order: a call may go to any of them), and `mergeInitialize`'s capabilities without the
 * change-notification flags (`listChanged`, `subscribe`): those arrive on a backend's `subscriptions/listen` stream,
 * which the gateway does not merge, so it does not promise them.
 */
export function mergeDiscover(results: ReadonlyMap<string, Result>, gateway: GatewayInfo, known: readonly string[]): MergedDiscover {
  const merged = mergeInitialize(results, gateway, '');
  let versions = [...known];
  for (const result of results.values()) {
    const offered = Array.isArray(result.supportedVersions) ? result.supportedVersions : [];
    versions = versions.filter((v) => offered.includes(v));
  }
  const caps: MergedCapabilities = {};
  if (merged.capabilities.logging) caps.logging = {};
  if (merged.capabilities.completions) caps.completions = {};
  if (merged.capabilities.tools) caps.tools = {};
  if (merged.capabilities.prompts) caps.prompts = {};
  if (merged.capabilities.resources) caps.resources = {};
  const out = { supportedVersions: versions, capabilities: caps };
  return merged.instructions === undefined ? out : { ...out, instructions: merged.instructions };
}

/** A list item as a backend sent it; fields the gateway does not know are kept as they are. */
export type ListItem = Readonly<Record<string, unknown>>;

type Result = Readonly<Record<string, unknown>>;

/**
 * `protocolVersion` is what the gateway negotiated with the client, not any backend's. Capabilities
 * are the union; a sub-flag (`listChanged`, `subscribe`) is on when any backend has it. `tasks` is the union of its
 * parts (the gateway routes tasks/* by the backend a task id names, and merges tasks/list: gateway-tasks.ts);
 * `experimental` is left out on purpose: its contents are free-form, so one backend's entry says nothing of another.
 * Instructions are labelled per backend; with a single backend they pass through verbatim, so the
 * sidecar pattern stays transparent.
 */
export function mergeInitialize(results: ReadonlyMap<string, Result>, gateway: GatewayInfo, protocolVersion: string): MergedInitialize {
  const caps: MergedCapabilities = {};
  const texts: string[] = [];
  for (const backend of sortedBackends(results)) {
    const result = results.get(backend) ?? {};
    const theirs = objectOr(result.capabilities);
    if (isObject(theirs.logging)) caps.logging = {};
    if (isObject(theirs.completions)) caps.completions = {};
    if (isObject(theirs.tools)) caps.tools = orFlags(caps.tools, theirs.tools, ['listChanged']);
    if (isObject(theirs.prompts)) caps.prompts = orFlags(caps.prompts, theirs.prompts, ['listChanged']);
    if (isObject(theirs.resources)) caps.resources = orFlags(caps.resources, theirs.resources, ['subscribe', 'listChanged']);
    if (isObject(theirs.tasks)) caps.tasks = mergeTasks(caps.tasks, theirs.tasks);
    const text = result.instructions;
    if (typeof text === 'string' && text.trim() !== '') texts.push(results.size === 1 ? text : `[${backend}]\n${text.trim()}`);
  }
  const merged = { protocolVersion, capabilities: caps, serverInfo: { ...gateway } };
  return texts.length === 0 ? merged : { ...merged, instructions: texts.join('\n\n') };
}

interface NamedMerge {
  readonly items: ListItem[];
  /** Every exposed name → backend name, visible or not: the `known` map for `resolveExposed`. */
  readonly names: Map<string, NameRef>;
}

/**
 * Renames tools per prefix mode and keeps only what `visible` allows. Only `name` changes: `title`,
 * `description`, `inputSchema`, `outputSchema`, `annotations`, `_meta` pass through. Prefixing is
 * decided over ALL names before filtering, so an exposed name never depends on the caller's task.
 * Order: backends in code-point order, each backend's items in the order it listed them — so a client
 * of a single backend sees that backend's list as it is (a server's order can be meaningful, e.g.
 * most-used first), and the merged order still never depends on which backend answered first.
 */
export function mergeToolsList(
  perBackend: ReadonlyMap<string, readonly ListItem[]>,
  names: NameSettings,
  visible: (exposedName: string) => boolean,
  onConflict?: ConflictHandler,
): { tools: ListItem[]; names: Map<string, NameRef> } {
  const merged = mergeNamed(perBackend, names, visible, onConflict);
  return { tools: merged.items, names: merged.names };
}

/** As `mergeToolsList`, for `prompts/list` (a separate namespace with the same prefixes). */
export function mergePromptsList(
  perBackend: ReadonlyMap<string, readonly ListItem[]>,
  names: NameSettings,
  visible: (exposedName: string) => boolean,
  onConflict?: ConflictHandler,
): { prompts: ListItem[]; names: Map<string, NameRef> } {
  const merged = mergeNamed(perBackend, names, visible, onConflict);
  return { prompts: merged.items, names: merged.names };
}

function mergeNamed(
  perBackend: ReadonlyMap<string, readonly ListItem[]>,
  settings: NameSettings,
  visible: (exposedName: string) => boolean,
  onConflict?: ConflictHandler,
): NamedMerge {
  // First item per (backend, name): a backend that lists a name twice gets its first entry.
  const byRef = new Map<string, ListItem>();
  const lists = new Map<string, string[]>();
  for (const [backend, items] of perBackend) {
    const list: string[] = [];
    for (const item of items) {
      if (typeof item.name !== 'string') continue; // malformed entry: nothing to route it by
      const key = refKey(backend, item.name);
      if (byRef.has(key)) continue;
      byRef.set(key, item);
      list.push(item.name);
    }
    lists.set(backend, list);
  }
  const exposed = exposeNames(lists, settings, onConflict);
  // The exposed name of each (backend, name) that won its name; a loser of a conflict has none.
  const exposedOf = new Map<string, string>();
  for (const [name, ref] of exposed) exposedOf.set(refKey(ref.backend, ref.name), name);
  const items: ListItem[] = [];
  for (const backend of sortedBackends(lists)) {
    for (const own of lists.get(backend) ?? []) {
      const key = refKey(backend, own);
      const name = exposedOf.get(key);
      const item = byRef.get(key);
      if (name !== undefined && item !== undefined && visible(name)) items.push({ ...item, name });
    }
  }
  return { items, names: exposed };
}

/** URIs are never renamed; `uris` (uri → backend) routes `resources/read` and `resources/subscribe`. */
export function mergeResourcesList(
  perBackend: ReadonlyMap<string, readonly ListItem[]>,
  visible: (uri: string) => boolean,
  onConflict?: ConflictHandler,
): { resources: ListItem[]; uris: Map<string, string> } {
  const merged = mergeByKey(perBackend, 'uri', visible, onConflict);
  return { resources: merged.items, uris: merged.owners };
}

/** Templates keep their `uriTemplate`; `templates` (uriTemplate → backend) lets a caller route a read that matches one. */
export function mergeResourceTemplatesList(
  perBackend: ReadonlyMap<string, readonly ListItem[]>,
  visible: (uriTemplate: string) => boolean,
  onConflict?: ConflictHandler,
): { resourceTemplates: ListItem[]; templates: Map<string, string> } {
  const merged = mergeByKey(perBackend, 'uriTemplate', visible, onConflict);
  return { resourceTemplates: merged.items, templates: merged.owners };
}

/**
 * Two backends offering the same key: the first in code-point order owns it, as for names. Order as for
 * names: backends in code-point order, each backend's items as it listed them.
 */
function mergeByKey(
  perBackend: ReadonlyMap<string, readonly ListItem[]>,
  field: 'uri' | 'uriTemplate',
  visible: (key: string) => boolean,
  onConflict?: ConflictHandler,
): { items: ListItem[]; owners: Map<string, string> } {
  const owners = new Map<string, string>();
  const items: ListItem[] = [];
  for (const backend of sortedBackends(perBackend)) {
    const own = (perBackend.get(backend) ?? []).filter((item) => typeof item[field] === 'string');
    for (const item of own) {
      const key = item[field] as string;
      const owner = owners.get(key);
      if (owner !== undefined) {
        if (owner !== backend) onConflict?.(key, { backend: owner, name: key }, { backend, name: key });
        continue;
      }
      owners.set(key, backend);
      if (visible(key)) items.push(item);
    }
  }
  return { items, owners };
}

function refKey(backend: string, name: string): string {
  return `${backend}\n${name}`; // backend names cannot contain a newline
}


function objectOr(value: unknown): Record<string, unknown> {
  return isObject(value) ? value : {};
}

/** Only the parts the gateway routes: `requests.tools.call` (a task-augmented call), `list`, `cancel`. */
function mergeTasks(ours: MergedTasks | undefined, theirs: Record<string, unknown>): MergedTasks {
  const next: MergedTasks = { ...ours };
  if (isObject(theirs.list)) next.list = {};
  if (isObject(theirs.cancel)) next.cancel = {};
  const requests = objectOr(theirs.requests);
  if (isObject(requests.tools) && isObject(requests.tools.call)) next.requests = { tools: { call: {} } };
  return next;
}

function orFlags<K extends string>(ours: Partial<Record<K, boolean>> | undefined, theirs: Record<string, unknown>, flags: readonly K[]): Partial<Record<K, boolean>> {
  const next: Partial<Record<K, boolean>> = { ...ours };
  for (const flag of flags) if (theirs[flag] === true || next[flag] === true) next[flag] = true;
  return next;
}
