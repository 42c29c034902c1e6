// A pino destination for the in-process toolgate: keeps its audit records for the demo to print, and
// shows warnings and errors on stderr as one readable line each.
import type { DestinationStream } from 'pino';

export interface DecisionRecord {
  readonly decisionId: string;
  readonly decision: string;
  readonly reason: string;
  readonly subject?: string;
  readonly task?: string;
  readonly method?: string;
  readonly tool?: string;
}

export interface AuditFeed extends DestinationStream {
  /** Audit records received so far, oldest first. */
  readonly decisions: readonly DecisionRecord[];
}

const WARN_LEVELS: ReadonlySet<unknown> = new Set(['warn', 'error', 'fatal']);

export function auditFeed(printProblem: (line: string) => void): AuditFeed {
  const decisions: DecisionRecord[] = [];
  return {
    decisions,
    write(line: string) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (record.event === 'decision' && typeof record.decisionId === 'string') {
        decisions.push(record as unknown as DecisionRecord);
      } else if (WARN_LEVELS.has(record.level)) {
        printProblem(`toolgate ${String(record.level)}: ${String(record.msg ?? '')} ${JSON.stringify({ ...record, level: undefined, msg: undefined, time: undefined, service: undefined })}`);
      }
    },
  };
}
