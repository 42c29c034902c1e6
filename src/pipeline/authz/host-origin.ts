// DNS-rebinding guard: every request must name a Host, and come from an Origin, that this MCP endpoint answers to.
import { randomUUID } from 'node:crypto';
import type { Runtime } from '../../core/runtime.js';
import type { HttpConfig } from '../../core/config/schema.js';
import { refusalReply } from './http-reply.js';
import type { ReplyOutcome } from './outcome.js';

/**
 * The MCP transport spec: servers MUST validate Origin on every incoming connection, and answer 403 when it is
 * present and invalid. A request without Origin is not from a browser page, so it cannot be a rebinding attack's;
 * it is judged on Host alone. Host is checked too because a rebound page is same-origin to the browser, which then
 * omits Origin on a GET, but it still names the attacker's domain in Host.
 */
export interface HostOriginRules {
  readonly hosts: readonly string[];
  readonly origins: readonly string[];
  allowsHost(hostname: string): boolean;
  allowsOrigin(origin: ParsedOrigin | 'null'): boolean;
}

export interface ParsedOrigin {
  readonly scheme: string;
  readonly host: string;
  /** Empty for the scheme's default port, as browsers serialize it. */
  readonly port: string;
}

const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];
const DEFAULT_PORTS: Readonly<Record<string, string>> = { http: '80', https: '443', ws: '80', wss: '443' };

/** The lists in force: the configured ones, or the resource's own host and origin plus loopback. */
export function compileHostOriginRules(resource: string, http: HttpConfig): HostOriginRules {
  const url = new URL(resource);
  const hosts = (http.allowedHosts ?? [url.hostname, ...LOOPBACK]).map(normalizeHost);
  const origins = http.allowedOrigins ?? [url.origin, ...LOOPBACK.flatMap((h) => [`http://${h}:*`, `https://${h}:*`])];
  const exactHosts = new Set(hosts.filter((h) => !h.startsWith('*')));
  const suffixes = hosts.filter((h) => h.startsWith('*.')).map((h) => h.slice(1));
  const anyHost = hosts.includes('*');
  const originRules = origins.map((o) => (o === '*' || o === 'null' ? o : parseOrigin(o.replace(/:\*$/, ''), o.endsWith(':*'))));
  return Object.freeze({
    hosts: Object.freeze([...hosts]),
    origins: Object.freeze([...origins]),
    allowsHost: (hostname: string) => anyHost || exactHosts.has(hostname) || suffixes.some((s) => hostname.endsWith(s) && hostname.length > s.length),
    allowsOrigin: (origin: ParsedOrigin | 'null') =>
      originRules.some((rule) => {
        if (rule === '*') return true;
        if (rule === 'null' || origin === 'null') return rule === origin;
        return rule !== undefined && rule.scheme === origin.scheme && rule.host === origin.host && (rule.port === '*' || rule.port === origin.port);
      }),
  });
}

// Cache: the Host/Origin rules compiled from each Runtime's config. Keyed weakly by the runtime, so bounded by the runtimes
// still referenced (a replaced one goes with its entry); safe to share because the rules derive only from that frozen config.
const compiled = new WeakMap<Runtime, HostOriginRules>();

/** Compiled once per config version. */
export function hostOriginRules(runtime: Runtime): HostOriginRules {
  let rules = compiled.get(runtime);
  if (!rules) {
    rules = compileHostOriginRules(runtime.config.resource, runtime.config.http);
    compiled.set(runtime, rules);
  }
  return rules;
}

export type HostOriginVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'host-not-allowed' | 'origin-not-allowed'; readonly message: string };

/** `headers` as ext_authz sees them: lower-case names, `:authority` for the Host. */
export function judgeHostOrigin(rules: HostOriginRules, headers: Readonly<Record<string, string>>): HostOriginVerdict {
  const host = headers[':authority'] ?? headers.host;
  // Envoy always sends one (HTTP/1.1 requires Host); a browser, the only rebinding vector, always sets it.
  if (host !== undefined) {
    const hostname = hostnameOf(host);
    if (hostname === undefined || !rules.allowsHost(hostname)) {
      return {
        ok: false,
        reason: 'host-not-allowed',
        message: `This MCP endpoint does not answer to the Host "${shown(host)}" (DNS rebinding protection); the request was not forwarded. ` +
          'Connect to the endpoint by one of its own names; an operator can allow more names in http.allowedHosts.',
      };
    }
  }
  const origin = headers.origin;
  if (origin !== undefined) {
    const parsed = origin.trim() === 'null' ? 'null' : parseOrigin(origin.trim(), false);
    if (parsed === undefined || !rules.allowsOrigin(parsed)) {
      return {
        ok: false,
        reason: 'origin-not-allowed',
        message: `This MCP endpoint does not accept requests with Origin "${shown(origin)}" (DNS rebinding protection); the request was not forwarded. ` +
          'An operator can allow that web origin in http.allowedOrigins.',
      };
    }
  }
  return { ok: true };
}

/** The pipeline step: undefined when Host and Origin pass, else the 403 to send (a JSON-RPC error without id). */
export function refuseForeignOrigin(runtime: Runtime, headers: Readonly<Record<string, string>>): ReplyOutcome | undefined {
  const verdict = judgeHostOrigin(hostOriginRules(runtime), headers);
  if (verdict.ok) return undefined;
  return {
    kind: 'reply',
    reply: refusalReply(null, verdict.reason, verdict.message),
    audit: { decisionId: randomUUID(), subject: undefined, task: undefined, method: undefined, tool: undefined, decision: 'deny', reason: verdict.reason, detail: verdict.message },
  };
}

/** `scheme://host[:port]` with a default port dropped; `anyPort` makes the port `*`. Undefined when it is not one. */
function parseOrigin(text: string, anyPort: boolean): ParsedOrigin | undefined {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(\[[0-9A-Fa-f:.]+\]|[^\s/:?#@[\]]+)(?::(\d{1,5}))?\/?$/.exec(text);
  if (!m) return undefined;
  const scheme = (m[1] as string).toLowerCase();
  const port = anyPort ? '*' : m[3] === undefined || m[3] === DEFAULT_PORTS[scheme] ? '' : String(Number(m[3]));
  return { scheme, host: normalizeHost(m[2] as string), port };
}

/** The name part of a Host value (`name`, `name:port`, `[v6]:port`), normalized; undefined when it is not one. */
function hostnameOf(host: string): string | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^\s/:?#@[\]]+)(?::\d{1,5})?$/.exec(host.trim());
  return m ? normalizeHost(m[1] as string) : undefined;
}

/** Lower case; a trailing dot (the fully qualified form of the same name) dropped. */
function normalizeHost(host: string): string {
  const lower = host.toLowerCase();
  return lower.endsWith('.') && lower.length > 1 ? lower.slice(0, -1) : lower;
}

/** A header value as a refusal may quote it: printable, and short. */
function shown(value: string): string {
  const printable = value.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 120 ? `${printable.slice(0, 120)}…` : printable;
}
