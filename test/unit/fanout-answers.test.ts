import { describe, expect, it } from 'vitest';
import { mergeAnswers } from '../../src/pipeline/fanout/answers.js';
import type { EgressFailure, RequestSuccess } from '../../src/pipeline/fanout/egress.js';

type Answer = RequestSuccess | EgressFailure;
const ok = (result: Record<string, unknown> = {}): Answer => ({ ok: true, status: 200, message: { jsonrpc: '2.0', id: 'f', result } });
const refused = (code: number, message: string, data?: unknown): Answer => ({
  ok: true, status: 200, message: { jsonrpc: '2.0', id: 'f', error: { code, message, ...(data === undefined ? {} : { data }) } },
});
const down = (backend: string, error: EgressFailure['error'] = 'timeout', status?: number): Answer => ({ ok: false, backend, error, status, detail: error });
const merge = (answers: Record<string, Answer>) => mergeAnswers('logging/setLevel', new Map(Object.entries(answers)));

describe('mergeAnswers', () => {
  it.each([
    ['every backend accepted', { a: ok(), b: ok() }, {}, []],
    ['one backend: its result verbatim', { a: ok({ _meta: { x: 1 } }) }, { _meta: { x: 1 } }, []],
    ['one of two accepted: its result, the other noted', { a: refused(-32601, 'Method not found'), b: ok({ _meta: { y: 2 } }) }, { _meta: { y: 2 } }, ['a']],
    ['one accepted, one unreachable', { a: ok(), b: down('b') }, {}, ['b']],
  ])('%s → a result', (_name, answers, result, notTaken) => {
    const merged = merge(answers);
    expect(merged.kind).toBe('result');
    if (merged.kind !== 'result') return;
    expect(merged.result).toEqual(result);
    expect([...merged.refused.keys()]).toEqual(notTaken);
  });

  it('one backend that refused: its error as it is (transparent)', () => {
    expect(merge({ a: refused(-32602, 'Invalid level', { level: 'loud' }) })).toEqual({ kind: 'error', code: -32602, message: 'Invalid level', data: { level: 'loud' }, status: 200 });
  });

  it('every backend refused with the same code: that code, naming each backend\'s answer on one line', () => {
    const merged = merge({ b: refused(-32602, 'Invalid\n  level'), a: refused(-32602, 'Bad level') });
    expect(merged).toEqual({
      kind: 'error', code: -32602, status: 200,
      message: 'No backend accepted logging/setLevel: a refused it (-32602: Bad level); b refused it (-32602: Invalid level).',
    });
  });

  it('refusals with different codes, one unreachable: -32603, everything named', () => {
    const merged = merge({ a: refused(-32601, 'Method not found'), b: refused(-32602, 'Bad'), c: down('c', 'http-status', 503) });
    expect(merged).toMatchObject({ kind: 'error', code: -32603, status: 200 });
    if (merged.kind !== 'error') return;
    expect(merged.message).toBe('No backend accepted logging/setLevel: a refused it (-32601: Method not found); b refused it (-32602: Bad); c did not answer (http-status 503).');
  });

  it('a long backend message is cut short', () => {
    const merged = merge({ a: refused(-32603, 'x'.repeat(1000)), b: refused(-32603, 'y') });
    expect(merged.kind === 'error' && merged.message.length).toBeLessThan(400);
  });

  it('no backend answered: 502 and -32603, naming why', () => {
    expect(merge({ a: down('a', 'network'), b: down('b', 'timeout') })).toEqual({
      kind: 'error', code: -32603, status: 502, data: { code: 'backend-unavailable' },
      message: 'No backend answered logging/setLevel (a did not answer (network); b did not answer (timeout)). Try again later.',
    });
  });

  it('every backend forgot the session: session-expired (the client re-initializes)', () => {
    expect(merge({ a: down('a', 'session-expired', 404), b: down('b', 'session-expired', 404) })).toEqual({ kind: 'session-expired' });
    expect(merge({ a: down('a', 'session-expired', 404), b: down('b', 'timeout') }).kind).toBe('error');
  });
});
