// Merges several backends' answers to one request the gateway sent to each (e.g. logging/setLevel) into one answer.
import { JsonRpcCode } from '../../core/mcp/message.js';
import { REASONS, reasonData } from '../../core/mcp/reply-table.js';
import type { EgressFailure, RequestSuccess } from './egress.js';
import { sortedBackends } from '../../core/mcp/names.js';

export type MergedAnswer =
  | { readonly kind: 'result'; readonly result: Record<string, unknown>; readonly refused: ReadonlyMap<string, string> }
  | { readonly kind: 'error'; readonly code: number; readonly message: string; readonly data?: unknown; readonly status: number }
  | { readonly kind: 'session-expired' };

/**
 * One backend: its answer as it is, so a gateway in front of one server stays transparent. Several: a result when
 * ANY backend accepted (the change took effect there; `refused` says where it did not), the accepted result itself
 * when only one accepted, else `{}` — the answers of methods sent everywhere carry nothing to merge. When none
 * accepted: a JSON-RPC error naming each backend's answer, with their code if they agree; HTTP 502 when no backend
 * answered at all; `session-expired` when every backend had forgotten the session (the client re-initializes).
 */
export function mergeAnswers(method: string, answers: ReadonlyMap<string, RequestSuccess | EgressFailure>): MergedAnswer {
  const backends = sortedBackends(answers);
  const accepted: Array<[string, Record<string, unknown>]> = [];
  const refused = new Map<string, string>();
  const codes = new Set<number>();
  let answered = 0;
  for (const backend of backends) {
    const answer = answers.get(backend) as RequestSuccess | EgressFailure;
    if (!answer.ok) {
      refused.set(backend, `did not answer (${answer.error}${answer.status ? ` ${answer.status}` : ''})`);
      continue;
    }
    answered += 1;
    if ('result' in answer.message) {
      accepted.push([backend, answer.message.result]);
      continue;
    }
    const { code, message, data } = answer.message.error;
    if (backends.length === 1) return { kind: 'error', code, message, ...(data === undefined ? {} : { data }), status: 200 };
    codes.add(code);
    refused.set(backend, `refused it (${code}: ${brief(message)})`);
  }
  if (accepted.length > 0) return { kind: 'result', result: accepted.length === 1 ? (accepted[0] as [string, Record<string, unknown>])[1] : {}, refused };
  const failures = [...answers.values()].filter((a): a is EgressFailure => !a.ok);
  if (failures.length > 0 && failures.length === answers.size && failures.every((f) => f.error === 'session-expired')) return { kind: 'session-expired' };
  const named = [...refused].map(([b, what]) => `${b} ${what}`).join('; ');
  if (answered === 0) {
    const reason = 'backend-unavailable';
    return { kind: 'error', code: REASONS[reason].jsonrpc, message: `No backend answered ${method} (${named || 'no backend to ask'}). Try again later.`, data: reasonData(reason), status: REASONS[reason].http };
  }
  const [code] = codes.size === 1 ? [...codes] : [JsonRpcCode.internalError];
  return { kind: 'error', code: code as number, message: `No backend accepted ${method}: ${named}.`, status: 200 };
}

/** A backend's message inside ours: one line, and short (SDK servers put whole validation dumps in theirs). */
function brief(message: string): string {
  const line = message.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
