// The shared store in the server: opened once per process (it outlives reloads), its readiness, the revoke endpoint.
import type http from 'node:http';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Runtime } from '../runtime/load.js';
import type { RuntimeHolder } from '../runtime/watch.js';
import { inspectSession } from '../../core/session/token.js';
import { asClientSessionToken } from '../../core/session/types.js';
import { openStore, storeChanged } from '../../ports/store/index.js';
import { attempt, type Store } from '../../ports/store/port.js';
import type { AdminRoute } from './admin.js';

/**
 * Opens the store the initial config names. A reload cannot swap it (counters and revocations would be
 * lost mid-window), so a changed `store` section is logged as needing a restart and the old store stays.
 */
export async function startStore(initial: Runtime, holder: RuntimeHolder, log: Logger): Promise<Store> {
  const { store } = await openStore(initial.config.store, log, (p) => path.resolve(path.dirname(path.resolve(initial.file)), p));
  holder.onChange((next) => {
    if (storeChanged(initial.config.store, next.config.store)) {
      log.warn({ event: 'store.restart-needed', kept: initial.config.store.type, wanted: next.config.store.type }, 'the store section changed: restart toolgate to use the new store; the running one stays');
    }
  });
  return store;
}

export const REVOKE_PATH = '/admin/sessions/revoke';
const MAX_BODY_BYTES = 16 * 1024;

/** `{store: 'ok'}` or `{store: 'unreachable'}` for /readyz; a dead Redis fails the ping at once. */
export function storeDependency(store: Store): () => Promise<Readonly<Record<string, string>>> {
  return async () => ({ store: (await attempt(store.ping())).ok ? 'ok' : 'unreachable' });
}

/**
 * POST /admin/sessions/revoke {"token": "<client Mcp-Session-Id>"}: opens the token with the current keyring
 * (no subject check: the operator is not the session's subject) and revokes its token id until it expires.
 * The admin server lets it run only for `Authorization: Bearer <server.adminTokenFile secret>` (admin-auth.ts).
 */
export function revokeRoute(holder: RuntimeHolder, store: Store, log: Logger): AdminRoute {
  return async (req, res) => {
    if (new URL(req.url ?? '/', 'http://admin').pathname !== REVOKE_PATH) return false;
    if (req.method !== 'POST') {
      send(res, 405, { error: 'use POST with {"token": "<Mcp-Session-Id>"}' }, { allow: 'POST' });
      return true;
    }
    const token = await readToken(req);
    if (typeof token !== 'string') {
      send(res, 400, { error: token.error });
      return true;
    }
    const opened = inspectSession(holder.current().sessions.keyring, asClientSessionToken(token));
    if (!opened.ok) {
      send(res, 400, { error: `not a session token this gateway can open (${opened.reason})` });
      return true;
    }
    const { tokenId, expiresAt, subject } = opened.session;
    const done = await attempt(store.revoke(tokenId, expiresAt));
    if (!done.ok) {
      log.error({ event: 'session.revoke-failed', tokenId, error: done.detail, source: 'admin' }, 'admin revoke failed: store unreachable');
      send(res, 503, { error: 'the session store is unreachable; nothing was revoked', store: 'unreachable' });
      return true;
    }
    log.info({ event: 'session.revoked', tokenId, subject, until: expiresAt, source: 'admin' }, 'session revoked by operator');
    const until = new Date(expiresAt * 1000).toISOString();
    send(res, 200, { revoked: tokenId, until, expired: expiresAt * 1000 <= Date.now() });
    return true;
  };
}

async function readToken(req: http.IncomingMessage): Promise<string | { error: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return { error: `body larger than ${MAX_BODY_BYTES} bytes` };
    chunks.push(chunk as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return { error: 'body must be JSON: {"token": "<Mcp-Session-Id>"}' };
  }
  const token = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).token : undefined;
  return typeof token === 'string' && token.length > 0 ? token : { error: 'body must be JSON: {"token": "<Mcp-Session-Id>"}' };
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}
