// Builds the store the config asks for; created once per process, it outlives config reloads.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { durationMs } from '../../core/config/duration.js';
import type { StoreConfig } from '../../core/config/schema-store.js';
import { createMemoryStore } from './memory.js';
import type { Store } from './port.js';

export type { Store } from './port.js';

export interface OpenedStore {
  readonly store: Store;
  /** True once the store can answer (memory: at once; Redis: after the first connection). */
  readonly ready: boolean;
}

/**
 * Creates the store and waits up to the connect timeout for Redis. A Redis that is down at start-up does
 * not stop toolgate: readiness reports it, decisions follow `policy.onStoreError`, and the client keeps
 * reconnecting in the background.
 */
export async function openStore(config: StoreConfig, log: Logger, resolvePath: (p: string) => string): Promise<OpenedStore> {
  if (config.type === 'memory') return { store: createMemoryStore(), ready: true };
  // Imported only for a Redis store: ioredis and its command table are ~45 modules an in-memory toolgate never uses.
  const { createRedisStore } = await import('./redis.js');
  const connectTimeoutMs = durationMs(config.connectTimeout);
  const store = createRedisStore(
    {
      url: config.url,
      sentinels: config.sentinels,
      name: config.name,
      nodes: config.nodes,
      keyPrefix: config.keyPrefix,
      username: config.username,
      password: config.passwordFile === undefined ? undefined : readSecret(resolvePath(config.passwordFile)),
      connectTimeoutMs,
      commandTimeoutMs: durationMs(config.commandTimeout),
    },
    log,
  );
  const ready = await store.waitUntilReady(connectTimeoutMs);
  if (!ready) log.warn({ event: 'store.not-ready', store: 'redis' }, 'Redis not reachable at start-up; retrying in the background');
  return { store, ready };
}

function readSecret(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    // A fatal start-up problem: the operator must see which file and why.
    throw new Error(`store.passwordFile: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** Whether two store configs differ in a way that needs a restart (the store is built once). */
export function storeChanged(a: StoreConfig, b: StoreConfig): boolean {
  return JSON.stringify(a) !== JSON.stringify(b);
}
