// toolgate's own logic for one sidecar 2025 tools/call presenting a session token, without gRPC (issue 10): the shape
// before (Check: authorize + signed handoff; ext_proc headers phase: verify the handoff, open the token) against now
// (Check: authorize, which opens the token itself; the finished mark). The ext_proc stream itself, which the new shape
// no longer opens, is transport and is measured by the load benchmark only. Run:
//   node scripts/on-pinned-node.mjs node_modules/vitest/vitest.mjs bench --run --config bench/vitest.config.ts bench/micro/sidecar-call.bench.ts
import { pino } from 'pino';
import { bench, describe } from 'vitest';
import { authorize } from '../../src/pipeline/authz/authorize.js';
import { signHandoff, verifyHandoff } from '../../src/core/session/handoff.js';
import { toStruct, fromStruct } from '../../src/envoy/struct.js';
import { presentedSession } from '../../src/pipeline/extproc/client-session.js';
import { createMemoryStore } from '../../src/ports/store/memory.js';
import { createMetrics } from '../../src/ports/telemetry/metrics.js';
import type { Deps } from '../../src/ports/deps.js';
import { call2025, fixture } from './fixtures.js';

const { runtime, token, session } = await fixture();
const deps: Deps = { store: createMemoryStore(), metrics: createMetrics() };
const log = pino({ level: 'silent' });
const withToken = call2025('echo', { text: 'hello from the toolgate benchmark' }, token, session);
// The old Check did not open the token: the same call without it costs what authorize() cost then.
const { 'mcp-session-id': _presented, ...headersWithout } = withToken.headers;
const withoutToken = { ...withToken, headers: headersWithout };
const requestId = 'bench-request-id';

describe('one sidecar tools/call, toolgate logic only (no gRPC)', () => {
  bench('before: Check without the token + signed handoff, then ext_proc verifies it and opens the token', async () => {
    const outcome = await authorize(runtime, withoutToken, deps);
    if (outcome.kind !== 'allow') throw new Error(`expected allow, got ${outcome.kind}`);
    const metadata = toStruct(signHandoff(runtime.sessions.keyring, {
      subject: outcome.subject, task: outcome.task, decision_id: outcome.decisionId, method: outcome.method, target: outcome.target,
    }, { requestId, body: withToken.body }));
    const verified = verifyHandoff(runtime.sessions.keyring, fromStruct(metadata), requestId);
    if (!verified.ok) throw new Error(`handoff refused: ${verified.reason}`);
    const opened = await presentedSession(runtime, deps, withToken.headers, { subject: outcome.subject, task: outcome.task, decisionId: outcome.decisionId, method: outcome.method, target: outcome.target, tasks: [] }, log);
    if (opened.kind !== 'open') throw new Error(`expected the token to open, got ${opened.kind}`);
  });

  bench('now: Check opens the token and finishes the call (no handoff, no ext_proc)', async () => {
    const outcome = await authorize(runtime, withToken, deps);
    if (outcome.kind !== 'allow' || !outcome.finished) throw new Error('expected a finished allow');
  });
});
