// The audit record on the wire: one JSON line per decision with exactly the record's fields, through the logger's
// format but not its redaction pass, so nothing but those fields may reach the line.
import { describe, expect, it } from 'vitest';
import { auditor, type AuditRecord } from '../../src/ports/log/audit.js';
import { createLogger } from '../../src/ports/log/logger.js';

function capture() {
  const lines: string[] = [];
  const log = createLogger({ destination: { write: (line: string) => { lines.push(line); } } });
  return { log, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const ALLOW: AuditRecord = { decisionId: 'd-1', subject: 'agent-1', task: 'support', method: 'tools/call', tool: 'refund', decision: 'allow', reason: 'allowed' };

describe('auditor(log)', () => {
  it.each<[string, AuditRecord, Record<string, unknown>, string]>([
    ['an allow', ALLOW, { decisionId: 'd-1', subject: 'agent-1', task: 'support', method: 'tools/call', tool: 'refund', decision: 'allow', reason: 'allowed' }, 'allow tools/call refund'],
    [
      'a denial with policy and detail',
      { ...ALLOW, decisionId: 'd-2', decision: 'deny', reason: 'condition-failed', policy: 'support/refund', detail: 'amount 900 > 100' },
      { decisionId: 'd-2', decision: 'deny', reason: 'condition-failed', policy: 'support/refund', detail: 'amount 900 > 100' },
      'deny tools/call refund',
    ],
    [
      'a dry-run allow',
      { ...ALLOW, decisionId: 'd-3', dryRun: { decision: 'deny', reason: 'tool-not-in-task', policy: undefined, message: 'not in the task' } },
      { decisionId: 'd-3', decision: 'allow', dryRun: { decision: 'deny', reason: 'tool-not-in-task', message: 'not in the task' } },
      'allow (dry-run: would deny tool-not-in-task) tools/call refund',
    ],
    ['a refusal before any method is known', { decisionId: 'd-4', subject: undefined, task: undefined, method: undefined, tool: undefined, decision: 'deny', reason: 'missing-token' }, { decisionId: 'd-4', decision: 'deny', reason: 'missing-token' }, 'deny -'],
  ])('writes %s as one line with the logger format', (_name, record, fields, msg) => {
    const { log, records } = capture();
    auditor(log)(record);
    const [line, ...more] = records();
    expect(more).toEqual([]);
    expect(line).toMatchObject({ level: 'info', service: 'toolgate', event: 'decision', ...fields, msg });
    expect(typeof line?.time).toBe('string');
    // Absent fields stay absent (never `null`), as with the spread before.
    for (const key of ['subject', 'task', 'method', 'tool', 'policy', 'detail', 'dryRun']) {
      if (!(key in fields) && (record as unknown as Record<string, unknown>)[key] === undefined) expect(line).not.toHaveProperty(key);
    }
  });

  it('writes only the record fields: a secret riding along on the object never reaches the unredacted line', () => {
    const { log, records } = capture();
    const carrying = { ...ALLOW, token: 'eyJ.secret.jwt', authorization: 'Bearer eyJ.secret.jwt', headers: { cookie: 'sid=1' }, sessionId: 's-1' };
    auditor(log)(carrying as AuditRecord);
    const line = JSON.stringify(records());
    expect(line).toContain('"decisionId":"d-1"');
    for (const secret of ['eyJ.secret.jwt', 'sid=1', 's-1', 'token', 'authorization', 'headers', 'sessionId']) expect(line).not.toContain(secret);
  });

  it('leaves the redaction of every other record in place', () => {
    const { log, records } = capture();
    auditor(log)(ALLOW);
    log.info({ token: 'eyJ.secret.jwt', headers: { authorization: 'Bearer x' }, nested: { sessionId: 's-1' } }, 'other');
    expect(records()[1]).toMatchObject({ token: '[redacted]', headers: { authorization: '[redacted]' }, nested: { sessionId: '[redacted]' } });
  });
});
