// What the authorization pipeline hands back to the Envoy adapter: plain values, no protos.
import type { AuditRecord } from '../../ports/log/audit.js';
import type { McpMessage } from '../../core/mcp/message.js';
import type { Charged } from '../../ports/store/port.js';
import type { SessionNote } from '../session/presented.js';

export interface HttpReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface AllowOutcome {
  readonly kind: 'allow';
  readonly subject: string;
  readonly task: string | undefined;
  readonly decisionId: string;
  /** The JSON-RPC method and target ext_authz read, so ext_proc need not buffer the body to learn them. */
  readonly method: string | undefined;
  readonly target: string | undefined;
  /** The caller's authorized tasks, for list methods (ext_proc filters the list by them). */
  readonly tasks: readonly string[] | undefined;
  /**
   * Request headers Envoy must drop before the request goes on (forged internal headers, the client's bearer token,
   * and on a finished sidecar call a session token that names no backend session).
   */
  readonly removeHeaders: readonly string[];
  /**
   * Request headers Envoy sets (overwriting, or adding) before the request goes on: the canonical Content-Type of a
   * POST, and on a finished sidecar call the backend's own Mcp-Session-Id.
   */
  readonly overwriteRequestHeaders: Readonly<Record<string, string>>;
  /**
   * Response headers Envoy overwrites where the response has them. The client's own Mcp-Session-Id goes back over
   * any backend session id on the response, so ext_proc need not watch response headers just to mask it.
   */
  readonly overwriteResponseHeaders: Readonly<Record<string, string>>;
  readonly audit: AuditRecord;
  /** The classified body, when it was read: telemetry takes the JSON-RPC id and `_meta.traceparent` from it. */
  readonly message?: McpMessage | undefined;
  /** What this call was charged (quota, budget, loop counters); ext_proc gives it back if it refuses the call. */
  readonly charged?: Charged | undefined;
  /** What its dry-run counters were charged, under their own receipt; given back the same way. */
  readonly chargedDryRun?: Charged | undefined;
  /**
   * ext_authz did this sidecar call's session swap itself (the headers above carry it): ext_proc has nothing left to
   * do, and the Envoy adapter marks the exchange finished instead of handing over a signed handoff.
   */
  readonly finished: boolean;
  /** A line the Envoy adapter logs for the session token (see ../session/presented.ts). */
  readonly sessionNote?: SessionNote | undefined;
}

export interface ReplyOutcome {
  readonly kind: 'reply';
  readonly reply: HttpReply;
  /** Undefined for answers that are not decisions (the metadata document). */
  readonly audit: AuditRecord | undefined;
  /** As on AllowOutcome; undefined when the body was not read (metadata, unauthenticated requests). */
  readonly message?: McpMessage | undefined;
  /** As on AllowOutcome: why a presented session token was refused, for the log. */
  readonly sessionNote?: SessionNote | undefined;
}

export type AuthzOutcome = AllowOutcome | ReplyOutcome;

