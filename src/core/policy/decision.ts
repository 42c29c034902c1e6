// A policy decision is a value: allow with the facts downstream needs, or deny with a reason an agent can act on.
import type { ReasonCode } from '../mcp/reply-table.js';

export interface Allow {
  readonly allow: true;
  readonly reason: 'allowed' | 'housekeeping';
  /** The task the call was allowed under; undefined for housekeeping without a task. */
  readonly task: string | undefined;
  /** Index of the matched tool rule inside the task (for quota/budget recording). */
  readonly rule: string | undefined;
  /** Dry-run: the denial the policy would have given; the call is forwarded all the same. */
  readonly wouldDeny?: Deny | undefined;
}

export interface Deny {
  readonly allow: false;
  readonly reason: ReasonCode;
  /** Plain-language text for the agent: what was refused, why, what is allowed instead, whether to retry. */
  readonly message: string;
  readonly task: string | undefined;
  /** Which policy entry decided, e.g. `tasks.refund-support.tools[1].when`. */
  readonly policy: string | undefined;
}

export type Decision = Allow | Deny;
