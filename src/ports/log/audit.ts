// One audit record per decision: who, which task, which method and tool, what was decided and why.
import type { Logger } from 'pino';

export interface AuditRecord {
  readonly decisionId: string;
  readonly subject: string | undefined;
  readonly task: string | undefined;
  readonly method: string | undefined;
  readonly tool: string | undefined;
  readonly decision: 'allow' | 'deny';
  readonly reason: string;
  readonly policy?: string | undefined;
  readonly detail?: string | undefined;
  /** Dry-run: the call was forwarded, but the policy would have refused it for this reason. */
  readonly dryRun?: { readonly decision: 'deny'; readonly reason: string; readonly policy: string | undefined; readonly message: string } | undefined;
}

/** Writes one decision's record. */
export type Audit = (record: AuditRecord) => void;

/**
 * The audit writer of a logger: its level, bindings and format, without its redaction pass. Redaction
 * (`REDACTED_PATHS`, with its `*.` wildcards) walked every record for keys an audit record cannot have: the writer
 * copies the fields of `AuditRecord` by name, none of them is a redacted key, and only strings sit under them. It cost
 * ~10 µs per record, more than serializing and writing it (bench/micro/audit-log-cpu.ts). Made once per handler.
 */
export function auditor(log: Logger): Audit {
  const unredacted = log.child({}, { redact: [] });
  return (record) => {
    const { dryRun } = record;
    const summary = dryRun ? `${record.decision} (dry-run: would ${dryRun.decision} ${dryRun.reason})` : record.decision;
    // Field by field, never a spread: whatever else the object carries must not reach an unredacted line.
    unredacted.info(
      {
        event: 'decision',
        decisionId: record.decisionId,
        subject: record.subject,
        task: record.task,
        method: record.method,
        tool: record.tool,
        decision: record.decision,
        reason: record.reason,
        policy: record.policy,
        detail: record.detail,
        dryRun: dryRun && { decision: dryRun.decision, reason: dryRun.reason, policy: dryRun.policy, message: dryRun.message },
      },
      `${summary} ${record.method ?? '-'} ${record.tool ?? ''}`.trimEnd(),
    );
  };
}
