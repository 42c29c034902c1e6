// The toolgate config file format (YAML or JSON), validated with zod at load time.
import { z } from 'zod';
import { httpSchema } from './schema-http.js';
import { KNOWN_PROTOCOL_VERSIONS } from '../mcp/protocol.js';
import { loopBreakerSchema, onStoreErrorSchema, storeSchema } from './schema-store.js';
import { pinsSchema } from './schema-pins.js';
import { durationMs, isDuration } from './duration.js';

const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration such as 500ms, 30s, 5m, 1h or 1d');

const port = z.number().int().min(0).max(65535);

/** `server.extProcCloseWait`'s default, and its cap: below Envoy's default 50-s gRPC client cache, with a margin. */
const EXT_PROC_CLOSE_WAIT = '30s';
const EXT_PROC_CLOSE_WAIT_MAX_MS = 45_000;

/**
 * enforce: a denial refuses the call. dry-run: the call is forwarded and the would-be denial is recorded (audit,
 * metric, span). Unset on a task, rule, quota or budget: the enclosing scope's mode applies.
 */
export const modeSchema = z.enum(['enforce', 'dry-run']);

/**
 * The MCP revisions a backend speaks. Only `2026-07-28` changes anything today: it lets the renderer give the
 * backend's argument-free tools a header-only route. Not declared: no such route (every body is read).
 */
const protocols = z
  .array(z.enum(KNOWN_PROTOCOL_VERSIONS, { message: `must be one of ${KNOWN_PROTOCOL_VERSIONS.join(', ')}` }))
  .min(1)
  .optional();

const serverTls = z
  .object({
    /** PEM certificate chain the server presents. */
    certFile: z.string().min(1),
    /** PEM private key of that certificate. */
    keyFile: z.string().min(1),
    /** PEM CA bundle that client certificates must chain to; a client without one is refused. */
    caFile: z.string().min(1),
  })
  .strict();

const jwtSchema = z
  .object({
    issuer: z.string().min(1),
    /** Defaults to `resource` (RFC 8707 audience binding). */
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    algorithms: z
      .array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']))
      .min(1)
      .default(['RS256', 'ES256']),
    jwksUri: z.string().url().optional(),
    /** Path to a JWKS JSON file ({"keys": [...]}), relative to the config file. */
    jwksFile: z.string().min(1).optional(),
    clockTolerance: duration.default('30s'),
    /** How long a fetched JWKS is trusted before it is fetched again. */
    jwksCacheMaxAge: duration.default('10m'),
    /** Minimum time between two fetches triggered by an unknown `kid`. */
    jwksCooldown: duration.default('30s'),
    /**
     * How long one JWKS fetch may take. Keep it below Envoy's ext_authz timeout (2s in the rendered configs), so an
     * IdP that hangs is answered with toolgate's 503 and Retry-After rather than Envoy's bare one.
     */
    jwksTimeout: duration.default('1s'),
    /** Required `typ` header of access tokens, e.g. `at+jwt` (RFC 9068); any type is accepted when absent. */
    requireType: z.string().min(1).optional(),
    /**
     * Longest accepted token lifetime: `exp - iat`, or, for a token without `iat`, the time left until `exp`.
     * Unlimited when absent. Tokens without `exp` are always refused.
     */
    maxLifetime: duration.optional(),
  })
  .strict()
  .refine((j) => (j.jwksUri ? 1 : 0) + (j.jwksFile ? 1 : 0) === 1, {
    message: 'set exactly one of jwksUri or jwksFile',
  });

const taskSelector = z
  .object({
    /** Claim holding the caller's authorized task names (string or array of strings). */
    claim: z.string().min(1).default('authorized_tasks'),
    /** Optional request header naming the task for this request; it must be one of the claim's tasks. */
    header: z.string().min(1).toLowerCase().optional(),
  })
  .strict();

const quota = z
  .object({
    calls: z.number().int().positive(),
    per: duration,
    /** CEL expression giving the counter key, e.g. `jwt.sub`. */
    key: z.string().min(1).default('jwt.sub'),
    /** Dry-run counts in a key of its own and never refuses; default: the rule's mode. */
    mode: modeSchema.optional(),
  })
  .strict();

const budget = z
  .object({
    /** CEL expression giving the amount this call spends, e.g. `mcp.arguments.amount`. */
    sum: z.string().min(1),
    max: z.number().positive(),
    per: duration,
    key: z.string().min(1).default('jwt.sub'),
    /** Dry-run counts in a key of its own and never refuses; default: the rule's mode. */
    mode: modeSchema.optional(),
  })
  .strict();

const toolRule = z
  .object({
    /** Tool name as the client sees it (with backend prefix in gateway mode). `*` ends a prefix pattern. */
    tool: z.string().min(1),
    /** CEL condition over `jwt`, `mcp.arguments`, `mcp.tool`, `mcp.method`; false or an error denies. */
    when: z.string().min(1).optional(),
    /** Agent-facing text when `when` is false; `{{jwt.x}}` / `{{mcp.arguments.y}}` are filled in. */
    message: z.string().min(1).optional(),
    quota: quota.optional(),
    budget: budget.optional(),
    /** Mode of this rule's `when` (and default of its quota and budget); default: the task's mode. */
    mode: modeSchema.optional(),
  })
  .strict();

const taskSchema = z
  .object({
    description: z.string().optional(),
    /** Mode of this task's refusals (a target it does not list, its rules); default: `policy.mode`. */
    mode: modeSchema.optional(),
    tools: z.array(toolRule).default([]),
    /** Prompt names this task may get (`*` ends a prefix pattern). */
    prompts: z.array(z.string().min(1)).default([]),
    /** Resource URIs this task may read (`*` ends a prefix pattern). */
    resources: z.array(z.string().min(1)).default([]),
    /** Further JSON-RPC methods this task may call (e.g. `completion/complete`, `logging/setLevel`). */
    methods: z.array(z.string().min(1)).default([]),
  })
  .strict();

const backendSchema = z
  .object({
    /** Envoy cluster that serves this backend. */
    cluster: z.string().min(1),
    /** Tool/prompt name prefix; defaults to the backend's name. */
    toolPrefix: z.string().min(1).optional(),
    /** always: every name is prefixed; collision: only names two backends share; never: no prefix. */
    prefixMode: z.enum(['always', 'collision', 'never']).default('always'),
    /** Request path on the backend; defaults to the client's path. */
    path: z.string().startsWith('/').optional(),
    /**
     * `host:port` entries (may hold `${VAR}` placeholders), read only by `toolgate render envoy`;
     * default one endpoint `${<NAME>_ADDRESS}:${<NAME>_PORT}` (NAME upper-cased, `-` → `_`).
     */
    endpoints: z.array(z.string().min(1)).min(1).optional(),
    protocols,
    /** Pinned definitions of this backend's tools, prompts and resource templates (rug-pull protection); off when absent. */
    pins: pinsSchema,
  })
  .strict();

const sessionKey = z
  .object({
    /** Key id written into each token header; short and URL-safe. */
    kid: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'kid is 1-32 letters, digits, - or _'),
    /** A file holding the secret (a Kubernetes Secret mount); relative to the config file. */
    secretFile: z.string().min(1).optional(),
    /** The secret inline: base64url 32 bytes, or any string of 32+ bytes. Prefer secretFile. */
    secret: z.string().min(32).optional(),
  })
  .strict()
  .refine((k) => (k.secretFile ? 1 : 0) + (k.secret ? 1 : 0) === 1, { message: 'set exactly one of secretFile or secret' });

export const HOUSEKEEPING_DEFAULT = [
  'initialize',
  'ping',
  'notifications/*',
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
  'server/discover',
] as const;

export const configSchema = z
  .object({
    /** The protected resource (the MCP endpoint URL clients use); the JWT audience by default. */
    resource: z.string().url(),
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        grpcPort: port.default(9001),
        adminPort: port.default(9002),
        /**
         * Gateway mode: the HTTP port of toolgate's event-stream server, which serves each client's GET stream by
         * merging the backends' (the rendered Envoy routes gateway GETs there). Unset: gateway GET answers 405.
         */
        eventsPort: port.optional(),
        /** Grace period for in-flight streams on SIGTERM. */
        shutdownGrace: duration.default('10s'),
        /**
         * How long a routed gateway call's ext_proc stream waits, after toolgate's last answer, for Envoy to close it
         * at the end of the call (an end from toolgate costs an HTTP/2 reset: docs/envoy.md, fact 26). A longer call's
         * stream is ended by toolgate then. Must stay below Envoy's `max_cached_entry_idle_duration` for its gRPC
         * client (50 s by default; fact 19), hence the cap. `0s`: end at once (one reset per routed call).
         */
        extProcCloseWait: duration
          .refine((d) => !isDuration(d) || durationMs(d) <= EXT_PROC_CLOSE_WAIT_MAX_MS, {
            message: `must be at most ${EXT_PROC_CLOSE_WAIT_MAX_MS / 1000}s: a stream must end before Envoy drops its cached gRPC client (50 s by default)`,
          })
          .default(EXT_PROC_CLOSE_WAIT),
        /** gRPC over TLS, and only for clients with a certificate signed by caFile (Envoy's mTLS). Paths are relative to the config file. */
        tls: serverTls.optional(),
        /**
         * File holding the bearer secret every state-changing admin endpoint (session revoke) requires; relative to
         * the config file. `toolgate serve` refuses to start without it (src/app/server/admin-auth.ts): optional here only
         * so that rendering and policy tooling can read configs written for another machine.
         */
        adminTokenFile: z.string().min(1).optional(),
      })
      .strict()
      .default({ host: '127.0.0.1', grpcPort: 9001, adminPort: 9002, shutdownGrace: '10s', extProcCloseWait: EXT_PROC_CLOSE_WAIT }),
    identity: z
      .object({
        jwt: jwtSchema,
        task: taskSelector.default({ claim: 'authorized_tasks' }),
        /** Forward the client's Authorization header to backends. Off: the MCP spec forbids token passthrough. */
        passthroughToken: z.boolean().default(false),
      })
      .strict(),
    /** The Host and Origin headers client requests may carry (DNS-rebinding protection, every request, both modes). */
    http: httpSchema,
    /** RFC 9728 protected-resource metadata served at /.well-known/oauth-protected-resource. */
    metadata: z
      .object({
        authorizationServers: z.array(z.string().url()).min(1).optional(),
        scopesSupported: z.array(z.string()).optional(),
        resourceName: z.string().optional(),
        resourceDocumentation: z.string().url().optional(),
      })
      .strict()
      .default({}),
    policy: z
      .object({
        /**
         * enforce, or dry-run: policy denials are forwarded and recorded as would-be denials. Tasks, rules, quotas,
         * budgets and the loop breaker may override it. Authentication and request-shape refusals are never dry-run.
         */
        mode: modeSchema.default('enforce'),
        /** Methods any authenticated caller may use; `*` ends a prefix pattern. */
        housekeeping: z.array(z.string().min(1)).default([...HOUSEKEEPING_DEFAULT]),
        /** How a denied tools/call is answered. */
        denial: z.enum(['result', 'jsonrpc-error', 'http-403']).default('result'),
        /** Largest request body toolgate reads (Envoy's with_request_body / buffer cap must match). */
        maxBodyBytes: z.number().int().positive().default(1024 * 1024),
        /** Per feature (quota, budget, loop, revocation): deny or allow when the shared store cannot answer. */
        onStoreError: onStoreErrorSchema,
        /** Refuses identical repeated tool calls; off when absent. */
        loopBreaker: loopBreakerSchema.optional(),
      })
      .strict()
      .default({ mode: 'enforce', housekeeping: [...HOUSEKEEPING_DEFAULT], denial: 'result', maxBodyBytes: 1024 * 1024, onStoreError: { quota: 'deny', budget: 'deny', loop: 'deny', revocation: 'deny', pins: 'deny' } }),
    /** Client-facing session tokens (2025 protocol). The first key seals; the others still open older tokens. */
    session: z
      .object({
        ttl: duration.default('24h'),
        keys: z.array(sessionKey).min(1).optional(),
      })
      .strict()
      .default({ ttl: '24h' }),
    /** Envoy's egress listener: toolgate reaches backends only through it (fan-out of initialize, lists, DELETE). */
    egress: z
      .object({
        url: z.string().url(),
        timeout: duration.default('5s'),
      })
      .strict()
      .optional(),
    backends: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'backend names are letters, digits, - and _'), backendSchema).default({}),
    /** `backends.<name>.protocols` for a sidecar config that names no backend (its one MCP server). */
    backendProtocols: protocols,
    /** `backends.<name>.pins` for a sidecar config that names no backend (its one MCP server). */
    backendPins: pinsSchema,
    tasks: z.record(z.string().min(1), taskSchema).default({}),
    /** Shared state for quotas, budgets, loop detection and session revocation; read once at start-up. */
    store: storeSchema,
  })
  .strict()
  .refine((c) => c.backendProtocols === undefined || Object.keys(c.backends).length === 0, {
    message: 'backendProtocols is for a config without backends; declare backends.<name>.protocols instead',
    path: ['backendProtocols'],
  })
  .refine((c) => c.backendPins === undefined || Object.keys(c.backends).length === 0, {
    message: 'backendPins is for a config without backends; declare backends.<name>.pins instead',
    path: ['backendPins'],
  });

export type Mode = z.output<typeof modeSchema>;
export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type TaskConfig = z.output<typeof taskSchema>;
export type ToolRuleConfig = z.output<typeof toolRule>;
export type BackendConfig = z.output<typeof backendSchema>;
export type JwtConfig = z.output<typeof jwtSchema>;
export type ServerTlsConfig = z.output<typeof serverTls>;
export type HttpConfig = z.output<typeof httpSchema>;
