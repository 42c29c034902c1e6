// Builds the session keyring from config once; without configured keys, one random key lives as long as the process.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/errors.js';
import type { ParsedConfig } from '../config/schema.js';
import { createKeyring, type Keyring, type KeySpec } from './keys.js';

let ephemeral: KeySpec | undefined;

export function keyringFromConfig(config: ParsedConfig, file: string, resolvePath: (p: string) => string): { keyring: Keyring; ephemeral: boolean } {
  const keys = config.session.keys;
  if (!keys) {
    // Kept across reloads, or every reload would end every session.
    ephemeral ??= { kid: 'ephemeral', secret: randomBytes(32).toString('base64url') };
    return { keyring: createKeyring({ current: ephemeral }), ephemeral: true };
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
