// The Redis store (ioredis): standalone, Sentinel or Cluster; one Lua script per operation; fails fast when down.
import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { checkCounters, StoreUnavailableError, type Consumed, type Counter, type PinSighting, type PinVerdict, type Receipt, type Store } from './port.js';
import { CONSUME_LUA, IS_REVOKED_LUA, JUDGE_PINS_LUA, REFUND_LUA, REVOKE_LUA } from './redis-scripts.js';

export interface RedisStoreOptions {
  /** Exactly one of url, sentinels (+ name) or nodes. */
  readonly url?: string | undefined;
  readonly sentinels?: readonly string[] | undefined;
  readonly name?: string | undefined;
  readonly nodes?: readonly string[] | undefined;
  readonly keyPrefix: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
}

export interface RedisStore extends Store {
  readonly kind: 'redis';
  /** Resolves true once connected, false when `timeoutMs` passes first; never rejects. */
  waitUntilReady(timeoutMs: number): Promise<boolean>;
}

/** The commands `defineCommand` adds; ioredis attaches them at run time, so their types are declared here. */
interface ScriptCommands {
  toolgateConsume(numberOfKeys: number, ...keysThenArgs: string[]): Promise<unknown>;
  toolgateRefund(numberOfKeys: number, ...keys: string[]): Promise<unknown>;
  toolgateRevoke(key: string, untilEpochSeconds: string): Promise<unknown>;
  toolgateIsRevoked(key: string): Promise<unknown>;
  toolgateJudgePins(learnedKey: string, marksKey: string, ...args: string[]): Promise<unknown>;
}

type Client = (Redis | Cluster) & ScriptCommands;

const REVOKED = 'rev:';
/** Both hashes of one pin scope share its hash tag (Redis Cluster: one slot, one script). */
const pinKeys = (scope: string): [string, string] => [`pin:{${scope}}:learned`, `pin:{${scope}}:changed`];
// Reconnect soon after an outage, but never hammer a dead server: 100 ms, 200 ms, … capped at 1 s.
const retryDelay = (times: number): number => Math.min(100 * times, 1000);

export function createRedisStore(options: RedisStoreOptions, log: Logger): RedisStore {
  const client = connect(options);
  client.defineCommand('toolgateConsume', { lua: CONSUME_LUA });
  client.defineCommand('toolgateRefund', { lua: REFUND_LUA });
  client.defineCommand('toolgateRevoke', { lua: REVOKE_LUA, numberOfKeys: 1 });
  client.defineCommand('toolgateIsRevoked', { lua: IS_REVOKED_LUA, numberOfKeys: 1, readOnly: true });
  client.defineCommand('toolgateJudgePins', { lua: JUDGE_PINS_LUA, numberOfKeys: 2 });
  const health = watchHealth(client, log, describeTarget(options));

  // Every failure — refused connection, timeout, script error — becomes StoreUnavailableError for the caller.
  async function run<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw new StoreUnavailableError(err instanceof Error ? err.message : String(err), { cause: err });
    }
  }

  return {
    kind: 'redis',
    async consume(counters: readonly Counter[], receipt?: Receipt): Promise<Consumed> {
      checkCounters(counters);
      if (counters.length === 0) return { ok: true };
      const keys = counters.map((c) => c.key);
      if (receipt !== undefined) keys.push(receipt.key);
      const args = [String(receipt === undefined ? 0 : Math.max(1, Math.round(receipt.ttlMs)))];
      for (const c of counters) args.push(String(c.amount), String(c.limit), String(c.windowMs));
      const reply = await run(() => client.toolgateConsume(keys.length, ...keys, ...args));
      return parseConsumeReply(reply);
    },
    async refund(receipt: string, keys: readonly string[]): Promise<number> {
      const counters = [...new Set(keys)];
      const reply = await run(() => client.toolgateRefund(counters.length + 1, receipt, ...counters));
      return Number(reply) || 0;
    },
    async revoke(tokenId: string, untilEpochSeconds: number): Promise<void> {
      await run(() => client.toolgateRevoke(REVOKED + tokenId, String(Math.floor(untilEpochSeconds))));
    },
    async isRevoked(tokenId: string): Promise<boolean> {
      const reply = await run(() => client.toolgateIsRevoked(REVOKED + tokenId));
      return Number(reply) === 1;
    },
    async judgePins(scope: string, sightings: readonly PinSighting[], options: { learn: boolean; mark: boolean }): Promise<PinVerdict[]> {
      if (sightings.length === 0) return [];
      const args = [options.learn ? '1' : '0', options.mark ? '1' : '0'];
      for (const s of sightings) args.push(s.name, s.digest, s.pinned ?? '');
      const reply = await run(() => client.toolgateJudgePins(...pinKeys(scope), ...args));
      if (!Array.isArray(reply) || reply.length !== sightings.length * 2) throw new StoreUnavailableError(`unexpected pins reply ${JSON.stringify(reply)}`);
      return sightings.map((_, i) => {
        const approved = String(reply[2 * i]);
        return { approved: approved === '' ? undefined : approved, changed: String(reply[2 * i + 1]) === '1' };
      });
    },
    async pinMarks(scope: string): Promise<ReadonlyMap<string, string>> {
      const all = await run(() => client.hgetall(pinKeys(scope)[1]));
      return new Map(Object.entries(all));
    },
    async ping(): Promise<void> {
      await run(() => client.ping());
    },
    async close(): Promise<void> {
      health.closing();
      // QUIT lets Redis finish what it has; a dead connection gets no say in how long shutdown takes.
      const quit = client.quit().catch(() => undefined);
      await Promise.race([quit, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      client.disconnect();
    },
    waitUntilReady(timeoutMs: number): Promise<boolean> {
      if (client.status === 'ready') return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          client.off('ready', onReady);
          resolve(false);
        }, timeoutMs);
        const onReady = (): void => {
          clearTimeout(timer);
          resolve(true);
        };
        client.once('ready', onReady);
      });
    },
  };
}

/**
 * Fail fast, never queue: with no offline queue a command sent while disconnected is rejected at once, and
 * `maxRetriesPerRequest: 0` plus no resend means a command in flight when the socket dies is rejected rather
 * than replayed later (a replayed consume could count twice). `commandTimeout` bounds a server that hangs,
 * and `socketTimeout` then drops its connection, so the commands after it fail at once instead of each waiting.
 */
function connect(options: RedisStoreOptions): Client {
  const common: RedisOptions = {
    keyPrefix: options.keyPrefix,
    connectTimeout: options.connectTimeoutMs,
    commandTimeout: options.commandTimeoutMs,
    socketTimeout: options.commandTimeoutMs,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    enableOfflineQueue: false,
    connectionName: 'toolgate',
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
  };
  if (options.nodes !== undefined) {
    const { keyPrefix, enableOfflineQueue: _queue, ...node } = common;
    return new Cluster(options.nodes.map(toNode), {
      keyPrefix,
      enableOfflineQueue: false,
      clusterRetryStrategy: retryDelay,
      slotsRefreshTimeout: options.connectTimeoutMs,
      redisOptions: node,
    }) as Client;
  }
  if (options.sentinels !== undefined) {
    return new Redis({ ...common, sentinels: options.sentinels.map(toNode), name: options.name, retryStrategy: retryDelay }) as Client;
  }
  if (options.url === undefined) throw new TypeError('redis store needs url, sentinels or nodes');
  return new Redis(options.url, { ...common, retryStrategy: retryDelay }) as Client;
}

/** Logs transitions only (down once, up once), not every failed reconnect attempt. */
function watchHealth(client: Client, log: Logger, target: string): { closing(): void } {
  let up: boolean | undefined;
  let closing = false;
  let lastError = '';
  client.on('error', (err: Error) => {
    lastError = err.message;
  });
  client.on('ready', () => {
    if (up !== true) log.info({ event: 'store.connected', store: 'redis', target }, 'connected to Redis');
    up = true;
  });
  const down = (): void => {
    if (up === false || closing) return;
    log.warn({ event: 'store.unreachable', store: 'redis', target, error: lastError || undefined }, 'Redis unreachable; store operations fail fast until it returns');
    up = false;
  };
  client.on('close', down);
  client.on('reconnecting', down);
  return { closing: () => void (closing = true) };
}

function parseConsumeReply(reply: unknown): Consumed {
  if (!Array.isArray(reply) || reply.length === 0) throw new StoreUnavailableError(`unexpected consume reply ${JSON.stringify(reply)}`);
  const index = Number(reply[0]);
  if (index === 0) return { ok: true };
  const resetAtMs = Number(reply[1]);
  const used = Number(reply[2]);
  if (!Number.isSafeInteger(index) || !Number.isFinite(resetAtMs) || !Number.isFinite(used)) {
    throw new StoreUnavailableError(`unexpected consume reply ${JSON.stringify(reply)}`);
  }
  // Lua counts from 1.
  return { ok: false, index: index - 1, resetAtMs, used };
}

function toNode(hostPort: string): ClusterNode & { host: string; port: number } {
  const at = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(hostPort.slice(at + 1)) };
}

/** Where the store points, without credentials, for logs. */
function describeTarget(options: RedisStoreOptions): string {
  if (options.nodes) return `cluster ${options.nodes.join(',')}`;
  if (options.sentinels) return `sentinel ${options.name ?? ''}@${options.sentinels.join(',')}`;
  try {
    const url = new URL(options.url ?? '');
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return 'redis';
  }
}
