// Filters list responses (tools, prompts, resources) down to what the caller's tasks may use.
import { readName, readUri, readUriTemplate, type Reading } from '../../core/mcp/canonical.js';
import type { ToolCatalog } from '../../core/mcp/catalog.js';
import { isObject, LIST_METHODS, type ListMethod } from '../../core/mcp/message.js';
import type { CompiledPolicy } from '../../core/policy/compile.js';
import { createSseParser, type SseEvent } from '../fanout/sse.js';
import type { PinKind } from '../../core/pins/digest.js';

/** What a list shows: tools, prompts, resources (by URI) or resource templates (by URI template). */
export type ListedKind = 'tools' | 'prompts' | 'resources' | 'resourceTemplates';

const ITEMS: Readonly<Record<ListMethod, { key: string; field: string; kind: ListedKind }>> = {
  'tools/list': { key: 'tools', field: 'name', kind: 'tools' },
  'prompts/list': { key: 'prompts', field: 'name', kind: 'prompts' },
  'resources/list': { key: 'resources', field: 'uri', kind: 'resources' },
  // A template is visible when the task's resource patterns cover its URI template text (docs://* covers docs://{name}).
  'resources/templates/list': { key: 'resourceTemplates', field: 'uriTemplate', kind: 'resourceTemplates' },
};

/** Each kind's reading (as in mcp/canonical.ts) and the task list its patterns live in. */
const KINDS: Readonly<Record<ListedKind, { read: (text: string) => Reading; list: 'tools' | 'prompts' | 'resources' }>> = {
  tools: { read: readName, list: 'tools' },
  prompts: { read: readName, list: 'prompts' },
  resources: { read: readUri, list: 'resources' },
  resourceTemplates: { read: readUriTemplate, list: 'resources' },
};

/** The list methods (core/mcp names them; `ITEMS` has an entry for each, or this file does not compile). */
export { LIST_METHODS };

const itemsOf = (method: string) => (LIST_METHODS.has(method) ? ITEMS[method as ListMethod] : undefined);

/**
 * True when any of the caller's tasks lists the name (conditions are judged at call time, not here). The name is
 * read as a call would read it: one that is not canonical would be refused when used, so it is not shown, and a
 * pattern never sees text the server reads differently.
 */
export function visibleFor(policy: CompiledPolicy, tasks: readonly string[], kind: ListedKind, name: string): boolean {
  const { read, list } = KINDS[kind];
  if (!tasks.some((t) => policy.tasks.get(t)?.[list].test(name) ?? false) && !(policy.anyDryRun && hidesNothing(policy, tasks))) return false;
  return read(name).ok;
}

/** The list kind a method's result holds, for pins (resources themselves are not pinned). */
export function pinKindOf(method: string): PinKind | undefined {
  const kind = itemsOf(method)?.kind;
  return kind === 'resources' ? undefined : kind;
}

/** Every item of every list result in the body (JSON, or each event of an SSE body); what pins judge. */
export function listItems(method: string, contentType: string, body: string): unknown[] {
  const spec = itemsOf(method);
  if (!spec) return [];
  const of = (message: unknown): unknown[] =>
    isObject(message) && isObject(message.result) && Array.isArray(message.result[spec.key]) ? (message.result[spec.key] as unknown[]) : [];
  const parse = (text: string): unknown => {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  };
  if (!contentType.includes('text/event-stream')) return of(parse(body));
  const parser = createSseParser();
  return [...parser.push(body), ...parser.end()].flatMap((e) => of(parse(e.data)));
}

/**
 * In dry-run a call the caller's tasks do not list is forwarded (decide.ts), so its list hides nothing either: the
 * client sees what it would see without the policy. Only when every one of its tasks is in dry-run (none: the global mode).
 */
function hidesNothing(policy: CompiledPolicy, tasks: readonly string[]): boolean {
  if (tasks.length === 0) return policy.dryRun;
  return tasks.every((t) => policy.tasks.get(t)?.dryRun ?? policy.dryRun);
}

/**
 * Returns the rewritten body, or undefined when it holds no list result to filter.
 * A body toolgate cannot read is replaced by an empty list: it fails closed rather than leak names.
 * `hidden` names (uriTemplates) are removed whatever the tasks allow: pins found their definitions changed.
 * A tools list is noted in `catalog` (the runtime's) before it is filtered.
 */
export function filterListBody(policy: CompiledPolicy, catalog: ToolCatalog, tasks: readonly string[], method: string, contentType: string, body: string, hidden?: ReadonlySet<string>): string | undefined {
  const spec = itemsOf(method);
  if (!spec) return undefined;
  const keep = (item: unknown) =>
    isObject(item) && typeof item[spec.field] === 'string' && !(hidden?.has(item[spec.field] as string) ?? false) && visibleFor(policy, tasks, spec.kind, item[spec.field] as string);
  const rewrite = (message: unknown) => {
    if (!isObject(message) || !isObject(message.result) || !Array.isArray(message.result[spec.key])) return message;
    if (spec.kind === 'tools') catalog.note(message.result[spec.key] as unknown[]);
    const result = { ...message.result, [spec.key]: (message.result[spec.key] as unknown[]).filter(keep) };
    // A 2026-07-28 list says who may reuse it: filtered by this caller's task, it is no longer anyone else's.
    if (result.cacheScope === 'public') result.cacheScope = 'private';
    return { ...message, result };
  };
  if (contentType.includes('text/event-stream')) {
    const parser = createSseParser();
    const events = [...parser.push(body), ...parser.end()];
    return events.map((e) => serializeEvent(e, rewriteData(e.data, rewrite))).join('');
  }
  try {
    return JSON.stringify(rewrite(JSON.parse(body)));
  } catch {
    return JSON.stringify({ jsonrpc: '2.0', id: null, result: { [spec.key]: [] } });
  }
}

function rewriteData(data: string, rewrite: (m: unknown) => unknown): string {
  try {
    return JSON.stringify(rewrite(JSON.parse(data)));
  } catch {
    return data;
  }
}

function serializeEvent(e: SseEvent, data: string): string {
  let out = '';
  if (e.event !== 'message') out += `event: ${e.event}\n`;
  if (e.id !== undefined) out += `id: ${e.id}\n`;
  for (const line of data.split('\n')) out += `data: ${line}\n`;
  return `${out}\n`;
}
