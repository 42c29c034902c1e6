// The security stack itself: allowed calls reach the instrumented backend and are journalled; denied ones are not.
import { describe, expect, it } from 'vitest';
import { printLogsOnFailure } from '../harness/logs.js';
import { PUBLIC_TEXT, SECRET_URI } from './backend.js';
import { MATRIX, rpc, type SecurityStack, useSecurityStack } from './harness.js';

printLogsOnFailure();

describe.each(MATRIX)('security stack: $mode mode, $backend backend', ({ mode, backend }) => {
  let s: SecurityStack;
  let session: string;
  useSecurityStack({ mode, backend }, (stack, id) => {
    s = stack;
    session = id;
  });

  it('executes an allowed tool call once and journals it', async () => {
    s.journal.clear();
    const r = await s.post(rpc('tools/call', { name: s.tool('lookup_charge'), arguments: { id: 'ch_1' } }), { session });
    expect(r.status).toBe(200);
    expect(JSON.stringify(r.messages)).toContain('charge ch_1');
    expect(s.journal.tools().map((e) => [e.name, e.args])).toEqual([['lookup_charge', { id: 'ch_1' }]]);
  });

  it('denies a tool outside the task and the backend executes nothing', async () => {
    s.journal.clear();
    const r = await s.post(rpc('tools/call', { name: s.tool('delete_everything'), arguments: {} }), { session });
    expect(r.status).toBe(200);
    expect(r.messages).toMatchObject([{ result: { isError: true } }]);
    expect(s.journal.tools()).toEqual([]);
  });

  it('reads a public resource and refuses the secret one', async () => {
    s.journal.clear();
    const ok = await s.post(rpc('resources/read', { uri: 'file:///public/readme' }), { session });
    expect(JSON.stringify(ok.messages)).toContain(PUBLIC_TEXT);
    const denied = await s.post(rpc('resources/read', { uri: SECRET_URI }), { session });
    expect(JSON.stringify(denied.messages)).not.toContain('SECRET');
    expect(s.journal.reads().map((e) => e.name)).toEqual(['file:///public/readme']);
  });

  it('never shows the client a backend session id', () => {
    expect(s.journal.sessionIds.length).toBeGreaterThan(0);
    expect(s.journal.sessionIds).not.toContain(session);
  });
});
