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

export function audit(log: Logger, record: AuditRecord): void {
  const summary = record.dryRun ? `${record.decision} (dry-run: would ${record.dryRun.decision} ${record.dryRun.reason})` : record.decision;
  log.info({ event: 'decision', ...record }, `${summary} ${record.method ?? '-'} ${record.tool ?? ''}`.trimEnd());
}
