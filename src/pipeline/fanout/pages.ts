// Collects every page of a backend's list (tools, prompts, resources, templates) into one array.
import type { CallOptions, EgressClient, EgressFailure } from './egress.js';

export type ListMethod = 'tools/list' | 'prompts/list' | 'resources/list' | 'resources/templates/list';

/** The result field that holds the items of each list method. */
export const LIST_ITEMS_KEY = {
  'tools/list': 'tools',
  'prompts/list': 'prompts',
  'resources/list': 'resources',
  'resources/templates/list': 'resourceTemplates',
} as const satisfies Record<ListMethod, string>;

/**
 * Pages followed per backend. The gateway answers a list with ONE merged page and no `nextCursor`
 * (a cursor over several backends would have to encode each backend's position), so it reads a
 * backend's pages itself, up to this bound; each page has its own timeout.
 */
export const MAX_LIST_PAGES = 20;

export interface ListSuccess {
  readonly ok: true;
  readonly items: Record<string, unknown>[];
  readonly pages: number;
  /** True when the bound was hit or the backend repeated a cursor; `items` is then a prefix of the list. */
  readonly truncated: boolean;
}

/** Request ids `toolgate-list-1`, `-2`, …: one sequence per gateway context (a config version), never a process-wide one. */
export type ListIds = () => string;

export function listIdSequence(): ListIds {
  let n = 0;
  return () => `toolgate-list-${++n}`;
}

/** `ids` numbers the page requests (gatewayContext's sequence), so no two list calls of one config share an id. */
export async function listAllPages(
  client: EgressClient,
  backend: string,
  method: ListMethod,
  opts: CallOptions,
  ids: ListIds,
  maxPages: number = MAX_LIST_PAGES,
): Promise<ListSuccess | EgressFailure> {
  const key = LIST_ITEMS_KEY[method];
  const items: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let page = 1; page <= maxPages; page++) {
    const id = ids();
    const res = await client.request(backend, cursor === undefined ? { method, id } : { method, id, params: { cursor } }, opts);
    if (!res.ok) return res;
    if ('error' in res.message) {
      const { code, message } = res.message.error;
      return { ok: false, backend, error: 'rpc-error', status: res.status, detail: `${method}: JSON-RPC error ${code}: ${message}` };
    }
    const list = res.message.result[key];
    if (!Array.isArray(list)) return { ok: false, backend, error: 'bad-response', status: res.status, detail: `${method} result has no ${key} array` };
    for (const item of list) if (typeof item === 'object' && item !== null && !Array.isArray(item)) items.push(item as Record<string, unknown>);
    const next = res.message.result.nextCursor;
    if (typeof next !== 'string') return { ok: true, items, pages: page, truncated: false };
    // A backend that hands back a cursor it already gave would loop until the bound; stop now.
    if (seen.has(next)) return { ok: true, items, pages: page, truncated: true };
    seen.add(next);
    cursor = next;
  }
  return { ok: true, items, pages: maxPages, truncated: true };
}
