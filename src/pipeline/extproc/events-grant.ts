// The pass ext_proc puts on a gateway GET for toolgate's event-stream server: this token, this subject, briefly.
import type { Keyring } from '../../core/session/keys.js';
import { macMatches, macOf } from './gateway-macs.js';

/** Set by ext_proc after it opened the session token; a client copy is stripped like every x-toolgate-* header. */
export const EVENTS_GRANT_HEADER = 'x-toolgate-events-grant';

// Long enough for Envoy to connect to the event-stream server (a retry included), short enough that a grant
// seen on the wire between Envoy and toolgate is worthless soon after.
const GRANT_SECONDS = 30;
const TAG_BYTES = 16;

function signedText(expires: string, subject: string, token: string): string {
  return `${expires}\n${subject}\n${token}`;
}

/** `<expiry epoch seconds>.<subject, base64url>.<tag>`; the tag covers both and the session token it travels with. */
export function mintEventsGrant(keyring: Keyring, token: string, subject: string, nowMs = Date.now()): string {
  const expires = String(Math.floor(nowMs / 1000) + GRANT_SECONDS);
  const sub = Buffer.from(subject, 'utf8').toString('base64url');
  return `${expires}.${sub}.${macOf(keyring, 'events-grant', signedText(expires, sub, token), TAG_BYTES)}`;
}

/** The subject ext_authz verified for the request that carried `token`, or undefined for a forged or stale grant. */
export function openEventsGrant(keyring: Keyring, grant: string | undefined, token: string, nowMs = Date.now()): string | undefined {
  const [expires, sub, tag, extra] = (grant ?? '').split('.');
  if (expires === undefined || sub === undefined || tag === undefined || extra !== undefined || !/^\d{1,12}$/.test(expires)) return undefined;
  if (Number(expires) * 1000 <= nowMs) return undefined;
  if (!macMatches(keyring, 'events-grant', signedText(expires, sub, token), tag, TAG_BYTES)) return undefined;
  const subject = Buffer.from(sub, 'base64url').toString('utf8');
  return subject === '' ? undefined : subject;
}
