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
}

export function audit(log: Logger, record: AuditRecord): void {
  log.info({ event: 'decision', ...record }, `${record.decision} ${record.method ?? '-'} ${record.tool ?? ''}`.trimEnd());
}
