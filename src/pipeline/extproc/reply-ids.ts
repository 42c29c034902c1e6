// Gateway ids of server-to-client requests: "<backend>:<tag>:<original id as JSON>", so the client's reply names its backend.
import type { Keyring } from '../../core/session/keys.js';
import type { TokenId } from '../../core/session/types.js';
import { macMatches, macOf } from './gateway-macs.js';
import { toClientTaskMessage, type TaskIdEncoder } from './task-rewrite.js';

/** A JSON-RPC request id as a backend sent it. */
export type ServerRequestId = string | number;

export interface OpenedReplyId {
  readonly backend: string;
  /** The backend's own id, with its JSON type (a number stays a number). */
  readonly id: ServerRequestId;
}

// 96 bits: a client guessing tags gets one try per HTTP request, each refused with 400.
const TAG_BYTES = 12;
const BACKEND_NAME = /^[a-z0-9][a-z0-9_-]*$/i;

/** What a gateway id stands for; each has its own MAC key, so an id issued as one can never be presented as the other. */
export type GatewayIdPurpose = 'reply-id' | 'task-id';

/**
 * The tag binds the id to one client session (its token id, which survives re-sealing) and one backend: a
 * reply is forwarded only with the session that received the request, only to the backend that sent it.
 */
function signedText(tokenId: TokenId, backend: string, json: string): string {
  return `${tokenId}\n${backend}\n${json}`;
}

/** `<backend>:<tag>:<id as JSON>`: the scheme of every id the gateway hands a client for something a backend owns. */
export function gatewayIdFor(keyring: Keyring, purpose: GatewayIdPurpose, tokenId: TokenId, backend: string, id: ServerRequestId): string {
  const json = JSON.stringify(id);
  return `${backend}:${macOf(keyring, purpose, signedText(tokenId, backend, json), TAG_BYTES)}:${json}`;
}

/** The backend and original id a gateway id names, or undefined when this gateway did not issue it, for this purpose, to this session. */
export function openGatewayId(keyring: Keyring, purpose: GatewayIdPurpose, tokenId: TokenId, presented: unknown): OpenedReplyId | undefined {
  if (typeof presented !== 'string') return undefined;
  const first = presented.indexOf(':');
  const second = presented.indexOf(':', first + 1);
  if (first <= 0 || second < 0) return undefined;
  const backend = presented.slice(0, first);
  const tag = presented.slice(first + 1, second);
  const json = presented.slice(second + 1);
  if (!BACKEND_NAME.test(backend)) return undefined;
  if (!macMatches(keyring, purpose, signedText(tokenId, backend, json), tag, TAG_BYTES)) return undefined;
  let id: unknown;
  try {
    id = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id))) return { backend, id };
  return undefined;
}

export function replyIdFor(keyring: Keyring, tokenId: TokenId, backend: string, id: ServerRequestId): string {
  return gatewayIdFor(keyring, 'reply-id', tokenId, backend, id);
}

/** The backend and original id a reply names, or undefined when this gateway did not issue the id to this session. */
export function openReplyId(keyring: Keyring, tokenId: TokenId, presented: unknown): OpenedReplyId | undefined {
  return openGatewayId(keyring, 'reply-id', tokenId, presented);
}

/**
 * A server→client message with its request id (or, for `notifications/cancelled`, the id it cancels) in the
 * gateway's form, and with `encodeTask`, every task id it names (task-ids.ts); undefined when nothing changes
 * (responses, other notifications).
 */
export function toClientMessage(message: unknown, encode: (id: ServerRequestId) => string, encodeTask?: TaskIdEncoder): Record<string, unknown> | undefined {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return undefined;
  const original = message as Record<string, unknown>;
  if (typeof original.method !== 'string') return undefined;
  const tasked = encodeTask ? toClientTaskMessage(original, encodeTask) : undefined;
  const msg = tasked ?? original;
  if (isId(msg.id)) return { ...msg, id: encode(msg.id) };
  const params = msg.params as Record<string, unknown> | undefined;
  if (msg.method === 'notifications/cancelled' && typeof params === 'object' && params !== null && isId(params.requestId)) {
    return { ...msg, params: { ...params, requestId: encode(params.requestId) } };
  }
  return tasked;
}

function isId(value: unknown): value is ServerRequestId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}
