// Task ids in MCP messages (2025-11-25): where a result, notification or request names a task, rewritten in one place.
import { isObject } from '../../core/mcp/message.js';

/** The `_meta` key under which a message names the task it belongs to. */
export const RELATED_TASK_META = 'io.modelcontextprotocol/related-task';

export type TaskIdEncoder = (backendTaskId: string) => string;

/**
 * A result or notification params with every task id in the gateway's form: a CreateTaskResult's `task.taskId`, a
 * Task's own `taskId` (tasks/get, tasks/cancel, notifications/tasks/status), each of tasks/list's `tasks[].taskId`, and
 * the related-task `_meta`. Everything else is kept as the backend sent it; the input is not changed.
 */
export function withClientTaskIds(value: Readonly<Record<string, unknown>>, encode: TaskIdEncoder): Record<string, unknown> {
  const out: Record<string, unknown> = { ...value };
  if (typeof out.taskId === 'string') out.taskId = encode(out.taskId);
  if (isObject(out.task) && typeof out.task.taskId === 'string') out.task = { ...out.task, taskId: encode(out.task.taskId) };
  if (Array.isArray(out.tasks)) {
    out.tasks = out.tasks.map((t: unknown) => (isObject(t) && typeof t.taskId === 'string' ? { ...t, taskId: encode(t.taskId) } : t));
  }
  if (isObject(out._meta)) {
    const related = out._meta[RELATED_TASK_META];
    if (isObject(related) && typeof related.taskId === 'string') {
      out._meta = { ...out._meta, [RELATED_TASK_META]: { ...related, taskId: encode(related.taskId) } };
    }
  }
  return out;
}

/**
 * A server→client message on an event stream whose task ids must be rewritten: `notifications/tasks/status`, and any
 * request or notification whose `_meta` names a related task. Undefined when it names no task (left byte for byte).
 */
export function toClientTaskMessage(message: Readonly<Record<string, unknown>>, encode: TaskIdEncoder): Record<string, unknown> | undefined {
  if (typeof message.method !== 'string' || !isObject(message.params)) return undefined;
  const params = message.params;
  const named = message.method === 'notifications/tasks/status' ? typeof params.taskId === 'string' : isObject(params._meta) && isObject(params._meta[RELATED_TASK_META]);
  if (!named) return undefined;
  const rewritten = message.method === 'notifications/tasks/status' ? withClientTaskIds(params, encode) : withClientTaskIds({ _meta: params._meta }, encode);
  return { ...message, params: { ...params, ...rewritten } };
}

/**
 * A backend's JSON-RPC response to a routed tasks/get, tasks/result or tasks/cancel, with the task ids the client must
 * see: tasks/get and tasks/cancel answer with the Task (its `taskId`); tasks/result answers with the task's own result
 * (e.g. a CallToolResult, whose fields are the tool's), where only the related-task `_meta` names the task. An error,
 * or anything that is not a response, is undefined (left as the backend sent it).
 */
export function toClientTaskResponse(method: string, message: unknown, encode: TaskIdEncoder): Record<string, unknown> | undefined {
  if (!isObject(message) || 'method' in message || !isObject(message.result)) return undefined;
  const result = message.result;
  if (method !== 'tasks/result') return { ...message, result: withClientTaskIds(result, encode) };
  if (!isObject(result._meta)) return undefined;
  return { ...message, result: { ...result, ...withClientTaskIds({ _meta: result._meta }, encode) } };
}

