// Short MACs the gateway puts on values it hands out and takes back (reply ids, task ids, event-stream grants), keyed from the session keyring.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { Keyring } from '../../core/session/keys.js';

/** One derived key per purpose, so a tag made for one kind of value never verifies as another. */
export type MacPurpose = 'reply-id' | 'task-id' | 'events-grant';

// Cache: the HKDF-derived MAC keys of each session Keyring, by purpose: derived once per keyring (a config version),
// never per request. Keyed weakly by the keyring, so bounded by the keyrings still referenced (three purposes each);
// safe to share because the keys derive only from the keyring. Replicas configured with the same session keys derive
// the same MAC keys, so a value tagged by one replica verifies on another; rotation works like the tokens'.
const derived = new WeakMap<Keyring, Map<MacPurpose, readonly Buffer[]>>();

function keysFor(keyring: Keyring, purpose: MacPurpose): readonly Buffer[] {
  let byPurpose = derived.get(keyring);
  if (!byPurpose) {
    byPurpose = new Map();
    derived.set(keyring, byPurpose);
  }
  let keys = byPurpose.get(purpose);
  if (!keys) {
    keys = keyring.kids.flatMap((kid) => {
      const key = keyring.find(kid)?.key;
      return key ? [Buffer.from(hkdfSync('sha256', key.export(), 'toolgate/gateway-mac', purpose, 32))] : [];
    });
    byPurpose.set(purpose, keys);
  }
  return keys;
}

function tagWith(key: Buffer, text: string, bytes: number): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest().subarray(0, bytes);
}

/** base64url of the first `bytes` bytes of HMAC-SHA256(current key, text). */
export function macOf(keyring: Keyring, purpose: MacPurpose, text: string, bytes: number): string {
  const [current] = keysFor(keyring, purpose);
  if (!current) throw new Error('the session keyring has no key');
  return tagWith(current, text, bytes).toString('base64url');
}

/** True when `tag` is the MAC of `text` under the current key or a previous one. */
export function macMatches(keyring: Keyring, purpose: MacPurpose, text: string, tag: string, bytes: number): boolean {
  const given = Buffer.from(tag, 'base64url');
  // A tag that does not round-trip is not one we made (base64url has several spellings of some byte strings).
  if (given.length !== bytes || given.toString('base64url') !== tag) return false;
  return keysFor(keyring, purpose).some((key) => timingSafeEqual(tagWith(key, text, bytes), given));
}
