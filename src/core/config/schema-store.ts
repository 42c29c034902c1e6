// Config sections for shared state: the `store` engine, per-feature failure behaviour, and the loop breaker.
import { z } from 'zod';

const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration such as 500ms, 30s, 5m, 1h or 1d');

/** `host:port`, or `[v6 address]:port`. */
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'must be host:port, e.g. redis-0.redis:6379');

const memoryStore = z.object({ type: z.literal('memory') }).strict();

const redisStore = z
  .object({
    type: z.literal('redis'),
    /** Standalone server: redis://[user:password@]host:port[/db] or rediss:// for TLS. */
    url: z.string().regex(/^rediss?:\/\/\S+$/, 'must be a redis:// or rediss:// URL').optional(),
    /** Sentinel: the sentinels to ask (`host:port`) and the master `name` they watch. */
    sentinels: z.array(hostPort).min(1).optional(),
    name: z.string().min(1).optional(),
    /** Cluster: some of its nodes (`host:port`); the rest are discovered. */
    nodes: z.array(hostPort).min(1).optional(),
    /** Prepended to every key, so several deployments can share one Redis. */
    keyPrefix: z.string().default('toolgate:'),
    /** Redis ACL user, and a file holding the password (relative to the config file); a `url` may carry both. */
    username: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    /** How long one connection attempt may take before it counts as failed. */
    connectTimeout: duration.default('2s'),
    /** How long one operation may take; keep it well under Envoy's ext_authz timeout. */
    commandTimeout: duration.default('500ms'),
  })
  .strict()
  .superRefine((r, ctx) => {
    const modes = [r.url, r.sentinels, r.nodes].filter((m) => m !== undefined).length;
    if (modes !== 1) ctx.addIssue({ code: 'custom', message: 'set exactly one of url (standalone), sentinels (with name) or nodes (cluster)' });
    if (r.sentinels !== undefined && r.name === undefined) ctx.addIssue({ code: 'custom', path: ['name'], message: 'required with sentinels: the master name the sentinels watch' });
    if (r.name !== undefined && r.sentinels === undefined) ctx.addIssue({ code: 'custom', path: ['name'], message: 'only used with sentinels' });
  });

/** The embedded in-process store (one replica) or Redis (replicas that must agree). */
export const storeSchema = z.discriminatedUnion('type', [memoryStore, redisStore]).default({ type: 'memory' });

const onError = z.enum(['deny', 'allow']);

/** What a feature does when the store cannot answer; deny (fail closed) unless the operator says otherwise. */
export const onStoreErrorSchema = z
  .object({
    quota: onError.default('deny'),
    budget: onError.default('deny'),
    loop: onError.default('deny'),
    revocation: onError.default('deny'),
    /** Pinned definitions: a tools/call or prompts/get of an enforcing backend when the changed marks cannot be read. */
    pins: onError.default('deny'),
  })
  .strict()
  .default({ quota: 'deny', budget: 'deny', loop: 'deny', revocation: 'deny', pins: 'deny' });

/** Refuses the same call (subject, tool, arguments) once it was allowed `maxRepeats` times in one window. */
export const loopBreakerSchema = z
  .object({
    maxRepeats: z.number().int().positive(),
    window: duration.default('1m'),
    /** Tool names or `prefix*` patterns it watches; all tools when omitted. */
    tools: z.array(z.string().min(1)).min(1).optional(),
    /** dry-run: repeats are counted in keys of their own and never refused; default: `policy.mode`. */
    mode: z.enum(['enforce', 'dry-run']).optional(),
  })
  .strict();

export type StoreConfig = z.output<typeof storeSchema>;
export type RedisStoreConfig = Extract<StoreConfig, { type: 'redis' }>;
export type OnStoreError = z.output<typeof onStoreErrorSchema>;
export type StoreFeature = keyof OnStoreError;
export type LoopBreakerConfig = z.output<typeof loopBreakerSchema>;
