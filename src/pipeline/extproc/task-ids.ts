// Gateway task ids (MCP tasks, 2025-11-25): "<backend>:<tag>:<backend's task id as JSON>", bound to the session, as reply ids are.
import type { Keyring } from '../../core/session/keys.js';
import type { TokenId } from '../../core/session/types.js';
import { gatewayIdFor, openGatewayId, type OpenedReplyId } from './reply-ids.js';

export { RELATED_TASK_META, toClientTaskMessage, toClientTaskResponse, withClientTaskIds, type TaskIdEncoder } from './task-rewrite.js';

/** The methods that name a task by `params.taskId` alone. */
export const TASK_ID_METHODS: ReadonlySet<string> = new Set(['tasks/get', 'tasks/result', 'tasks/cancel']);

/** Task ids have their own MAC purpose: a reply id can never be presented as a task id, nor the reverse. */
export function taskIdFor(keyring: Keyring, tokenId: TokenId, backend: string, backendTaskId: string): string {
  return gatewayIdFor(keyring, 'task-id', tokenId, backend, backendTaskId);
}

/** The backend and its own task id, or undefined when the gateway did not issue `presented` to this session. */
export function openTaskId(keyring: Keyring, tokenId: TokenId, presented: unknown): (OpenedReplyId & { readonly id: string }) | undefined {
  const opened = openGatewayId(keyring, 'task-id', tokenId, presented);
  // The spec's task ids are strings; a number under a valid tag was never issued as one.
  return opened && typeof opened.id === 'string' ? { backend: opened.backend, id: opened.id } : undefined;
}
