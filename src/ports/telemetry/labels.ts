// Metric label values with a bound: names clients choose never become unbounded series.
import type { CompiledPolicy } from '../../core/policy/compile.js';

export const OTHER = 'other';
export const NONE = 'none';

/** JSON-RPC methods the MCP specification defines (2025-06-18 to 2026-07-28); anything else is labelled "other". */
const MCP_METHODS: ReadonlySet<string> = new Set([
  'initialize', 'ping', 'server/discover',
  'tools/list', 'tools/call',
  'prompts/list', 'prompts/get',
  'resources/list', 'resources/templates/list', 'resources/read', 'resources/subscribe', 'resources/unsubscribe',
  'completion/complete', 'logging/setLevel',
  'sampling/createMessage', 'elicitation/create', 'roots/list',
  'tasks/get', 'tasks/list', 'tasks/result', 'tasks/cancel',
  'notifications/initialized', 'notifications/cancelled', 'notifications/progress', 'notifications/message',
  'notifications/roots/list_changed', 'notifications/resources/updated', 'notifications/resources/list_changed',
  'notifications/tools/list_changed', 'notifications/prompts/list_changed',
  'notifications/elicitation/complete', 'notifications/tasks/status',
]);

export function methodLabel(method: string | undefined): string {
  if (method === undefined) return NONE;
  return MCP_METHODS.has(method) ? method : OTHER;
}

/** A task label is a configured task name; a claim naming a task the config lacks is "other". */
export function taskLabel(policy: CompiledPolicy, task: string | undefined): string {
  if (task === undefined) return NONE;
  return policy.tasks.has(task) ? task : OTHER;
}

/**
 * Tool names covered by some configured rule keep their name, up to `cap` distinct ones (a rule
 * like `billing.*` covers unboundedly many); any other name, e.g. a denied guess, is "other".
 */
export class ToolLabels {
  private readonly seen = new Set<string>();

  constructor(private readonly cap = 200) {}

  label(policy: CompiledPolicy, tool: string | undefined): string {
    if (tool === undefined) return NONE;
    if (this.seen.has(tool)) return tool;
    if (this.seen.size >= this.cap || !covered(policy, tool)) return OTHER;
    this.seen.add(tool);
    return tool;
  }
}

function covered(policy: CompiledPolicy, tool: string): boolean {
  for (const task of policy.tasks.values()) if (task.tools.test(tool)) return true;
  return false;
}
