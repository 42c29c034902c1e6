// Session revocation at the router: DELETE (or a re-initialize) revokes; every opened session is checked against the
// shared store where it is opened (../session/presented.ts).
import type { Logger } from 'pino';
import type { Session } from '../../core/session/types.js';
import { attempt, type Store } from '../../ports/store/port.js';

/** Revokes the session until it would have expired anyway; a store failure is logged, never thrown. */
export async function revokeSession(store: Store, session: Session, log: Logger): Promise<void> {
  const done = await attempt(store.revoke(session.tokenId, session.expiresAt));
  if (done.ok) log.info({ event: 'session.revoked', tokenId: session.tokenId, subject: session.subject, until: session.expiresAt }, 'session revoked');
  else log.error({ event: 'session.revoke-failed', tokenId: session.tokenId, error: done.detail }, 'session could not be revoked; the token stays usable until it expires');
}
