// Builds the session keyring from config once; without configured keys, one random key lives as long as the app that made it.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/errors.js';
import type { ParsedConfig } from '../config/schema.js';
import { createKeyring, type Keyring, type KeySpec } from './keys.js';

/**
 * `keptRandom` is the random keyring of the runtime a reload replaces, when it had one: kept, or every reload would end
 * every session. Otherwise a config without keys gets a new random key (a new app, or one that just dropped its keys).
 */
export function keyringFromConfig(config: ParsedConfig, file: string, resolvePath: (p: string) => string, keptRandom?: Keyring): { keyring: Keyring; ephemeral: boolean } {
  const keys = config.session.keys;
  if (!keys) {
    return { keyring: keptRandom ?? createKeyring({ current: { kid: 'ephemeral', secret: randomBytes(32).toString('base64url') } }), ephemeral: true };
  }
  const specs = keys.map((k, i): KeySpec => {
    if (k.secret) return { kid: k.kid, secret: k.secret };
    try {
      return { kid: k.kid, secret: readFileSync(resolvePath(k.secretFile as string), 'utf8').trim() };
    } catch (err) {
      throw new ConfigError(file, [{ path: `session.keys[${i}].secretFile`, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
    }
  });
  const [current, ...previous] = specs as [KeySpec, ...KeySpec[]];
  try {
    return { keyring: createKeyring({ current, previous }), ephemeral: false };
  } catch (err) {
    throw new ConfigError(file, [{ path: 'session.keys', message: (err as Error).message }]);
  }
}
