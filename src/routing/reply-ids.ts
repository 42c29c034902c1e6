// Gateway ids of server-to-client requests: "<backend>:<tag>:<original id as JSON>", so the client's reply names its backend.
import type { Keyring } from '../session/keys.js';
import type { TokenId } from '../session/types.js';
import { macMatches, macOf } from './gateway-macs.js';

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

/**
 * The tag binds the id to one client session (its token id, which survives re-sealing) and one backend: a
 * reply is forwarded only with the session that received the request, only to the backend that sent it.
 */
function signedText(tokenId: TokenId, backend: string, json: string): string {
  return `${tokenId}\n${backend}\n${json}`;
}

export function replyIdFor(keyring: Keyring, tokenId: TokenId, backend: string, id: ServerRequestId): string {
  const json = JSON.stringify(id);
  return `${backend}:${macOf(keyring, 'reply-id', signedText(tokenId, backend, json), TAG_BYTES)}:${json}`;
}

/** The backend and original id a reply names, or undefined when this gateway did not issue the id to this session. */
export function openReplyId(keyring: Keyring, tokenId: TokenId, presented: unknown): OpenedReplyId | undefined {
  if (typeof presented !== 'string') return undefined;
  const first = presented.indexOf(':');
  const second = presented.indexOf(':', first + 1);
  if (first <= 0 || second < 0) return undefined;
  const backend = presented.slice(0, first);
  const tag = presented.slice(first + 1, second);
  const json = presented.slice(second + 1);
  if (!BACKEND_NAME.test(backend)) return undefined;
  if (!macMatches(keyring, 'reply-id', signedText(tokenId, backend, json), tag, TAG_BYTES)) return undefined;
  let id: unknown;
  try {
    id = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id))) return { backend, id };
  return undefined;
}

/**
 * A server→client message with its request id (or, for `notifications/cancelled`, the id it cancels) in the
 * gateway's form; undefined when the message carries no server request id (responses, other notifications).
 */
export function toClientMessage(message: unknown, encode: (id: ServerRequestId) => string): Record<string, unknown> | undefined {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return undefined;
  const msg = message as Record<string, unknown>;
  if (typeof msg.method !== 'string') return undefined;
  if (isId(msg.id)) return { ...msg, id: encode(msg.id) };
  const params = msg.params as Record<string, unknown> | undefined;
  if (msg.method === 'notifications/cancelled' && typeof params === 'object' && params !== null && isId(params.requestId)) {
    return { ...msg, params: { ...params, requestId: encode(params.requestId) } };
  }
  return undefined;
}

function isId(value: unknown): value is ServerRequestId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}
