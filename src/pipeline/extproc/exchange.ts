// One HTTP exchange as toolgate's router sees it, phase by phase; each phase returns a plain Step.
import type { Logger } from 'pino';
import type { Runtime } from '../../core/runtime.js';
import type { Deps } from '../../ports/deps.js';
import type { Charged } from '../../ports/store/port.js';

export interface HeaderChanges {
  readonly set?: Readonly<Record<string, string>>;
  readonly remove?: readonly string[];
}

export type BodyMode = 'NONE' | 'STREAMED' | 'BUFFERED' | 'BUFFERED_PARTIAL';
export type HeaderMode = 'SEND' | 'SKIP';

/** Envoy replaces the whole processing mode with an override, so every phase is spelled out. */
export interface ModeOverride {
  readonly requestBody: BodyMode;
  readonly responseHeaders: HeaderMode;
  readonly responseBody: BodyMode;
}

export interface ContinueStep extends HeaderChanges {
  readonly kind: 'continue';
  /** Replacement body; the adapter also fixes content-length. */
  readonly body?: string | Buffer;
  /** Replacement for one chunk of a STREAMED body (possibly empty: held back); headers are gone, so no content-length. */
  readonly chunk?: Buffer;
  /**
   * toolgate is done with the exchange before its processing mode says so. `after`: this is its last answer, the
   * stream ends right after it. `instead`: the stream ends without an answer, and Envoy passes the message unchanged.
   */
  readonly endStream?: 'after' | 'instead';
  /** Re-run route selection after header changes (routing on x-toolgate-backend). */
  readonly clearRouteCache?: boolean;
  /** Only honoured in a headers response (Envoy ignores it elsewhere). */
  readonly mode?: ModeOverride;
}

export interface ImmediateStep {
  readonly kind: 'immediate';
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export type Step = ContinueStep | ImmediateStep;

export const CONTINUE: ContinueStep = Object.freeze({ kind: 'continue' });

export interface HeaderFacts {
  /** Lower-case names; pseudo-headers (`:path`, `:method`, `:status`) included. */
  readonly headers: Readonly<Record<string, string>>;
  readonly endOfStream: boolean;
}

/** One HTTP exchange as seen by toolgate, phase by phase; an implementation keeps per-stream state. */
export interface ExchangeProcessor {
  requestHeaders(facts: HeaderFacts): Promise<Step> | Step;
  requestBody(body: Buffer, endOfStream: boolean): Promise<Step> | Step;
  responseHeaders(facts: HeaderFacts): Promise<Step> | Step;
  responseBody(body: Buffer, endOfStream: boolean): Promise<Step> | Step;
}

/** Identity and decision handed over by ext_authz through forwarded dynamic metadata. */
export interface AuthzContext {
  readonly subject: string | undefined;
  readonly task: string | undefined;
  readonly decisionId: string | undefined;
  /** JSON-RPC method and target ext_authz read from the body or the 2026 headers. */
  readonly method: string | undefined;
  readonly target: string | undefined;
  /** The caller's authorized tasks, sent by ext_authz for list methods so lists can be filtered. */
  readonly tasks: readonly string[];
  /** `params._meta.traceparent` ext_authz read from the body; telemetry uses it when no header carries one. */
  readonly traceparent?: string | undefined;
  /** What ext_authz charged this call; given back when ext_proc refuses it (see refund.ts). */
  readonly charged?: Charged | undefined;
  /** What its dry-run counters were charged, under their own receipt; given back the same way. */
  readonly chargedDryRun?: Charged | undefined;
}

/** What an exchange is built from: the config version in force when its stream started, and the app's store and metrics. */
export interface ExchangeDeps extends Deps {
  readonly runtime: Runtime;
  readonly log: Logger;
}
