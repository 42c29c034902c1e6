// The whole ext_authz pipeline on plain values (`authorize()`: identity → classify → decide → the sidecar call's
// session token (opened and checked for revocation: the Check finishes the call, issue 10) → limits), without gRPC
// (the token repeats, so identity is a verified-token cache hit, as for every call after a session's first):
// how much of toolgate's per-request CPU is its own logic rather than transport.
import { bench, describe } from 'vitest';
import { authorize } from '../../src/pipeline/authz/authorize.js';
import { buildRuntime } from '../../src/app/runtime/load.js';
import { refuseChangedDefinition } from '../../src/pipeline/authz/pins-gate.js';
import { readRequest } from '../../src/core/mcp/body.js';
import { createMemoryStore } from '../../src/ports/store/memory.js';
import { createMetrics } from '../../src/ports/telemetry/metrics.js';
import type { Deps } from '../../src/ports/deps.js';
import { call2025, call2026HeadersOnly, fixture } from './fixtures.js';

const { runtime, token, session } = await fixture();
// One in-memory store and one metrics registry for the whole run, as one toolgate process has.
const deps: Deps = { store: createMemoryStore(), metrics: createMetrics() };
// The same policy with `policy.mode: dry-run`: what the feature costs when it is on.
const dryRun = buildRuntime({ ...runtime.config, policy: { ...runtime.config.policy, mode: 'dry-run' } }, runtime.file);
const refundOver = call2025('refund', { amount: 500, charge_id: 'ch_1' }, token, session);
const echo2025 = call2025('echo', { text: 'hello from the toolgate benchmark' }, token, session);
const refund2025 = call2025('refund', { amount: 50, charge_id: 'ch_1' }, token, session);
const echo2026 = call2026HeadersOnly('echo', token);

const allowed = async (input: typeof echo2025, on = runtime) => {
  const outcome = await authorize(on, input, deps);
  if (outcome.kind !== 'allow') throw new Error(`expected allow, got ${outcome.kind}`);
};

// Pins enforced (issue 14.3): the changed marks are read from the store once per second, cached in between.
const pinned = await fixture({ backendPins: 'enforce' });
const pinnedEcho = call2025('echo', { text: 'hello from the toolgate benchmark' }, pinned.token, pinned.session);
const allowedPinned = async (input: typeof echo2025) => {
  const outcome = await authorize(pinned.runtime, input, deps);
  if (outcome.kind !== 'allow') throw new Error(`expected allow, got ${outcome.kind}`);
};

describe('authorize() (no gRPC)', () => {
  bench('2025 tools/call echo (JWT + body + decide)', () => allowed(echo2025));
  bench('2025 tools/call refund (JWT + body + CEL)', () => allowed(refund2025));
  bench('2026 headers-only tools/call echo', () => allowed(echo2026));
  bench('dry-run on: 2025 tools/call echo', () => allowed(echo2025, dryRun));
  bench('dry-run on: 2025 refund over the limit, forwarded as a would-be denial', () => allowed(refundOver, dryRun));
  bench('2025 tools/call echo, pins: enforce', () => allowedPinned(pinnedEcho));
});

// The pins step alone, as authorize() runs it when a backend enforces pins (marks cached: the usual case).
const pinnedCall = readRequest(pinnedEcho);
if (pinnedCall.type !== 'call') throw new Error('bench call did not read as a call');
describe('pins step of authorize()', () => {
  bench('refuseChangedDefinition, pins: enforce, marks cached', async () => {
    if (await refuseChangedDefinition(pinned.runtime, deps, pinnedCall, 'support')) throw new Error('expected no refusal');
  });
});
