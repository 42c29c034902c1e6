// Policy evaluation: compile once (at start-up), then `decide()` per call.
import { bench, describe } from 'vitest';
import { readRequest } from '../../src/core/mcp/body.js';
import type { McpCall } from '../../src/core/mcp/message.js';
import { decide } from '../../src/core/policy/decide.js';
import { CLAIMS, call2025, call2026HeadersOnly, fixture } from './fixtures.js';

const { runtime } = await fixture();
const policy = runtime.policy;
const asCall = (facts: Parameters<typeof readRequest>[0]): McpCall => {
  const message = readRequest(facts);
  if (message.type !== 'call') throw new Error('not a call');
  return message;
};
const echo = asCall(call2025('echo', { text: 'hello' }));
const refundOk = asCall(call2025('refund', { amount: 50, charge_id: 'ch_1' }));
const refundOver = asCall(call2025('refund', { amount: 500, charge_id: 'ch_1' }));
const prefixed = asCall(call2025('billing.invoice', {}));
const notListed = asCall(call2025('delete_everything', {}));
const headersOnly = asCall(call2026HeadersOnly('echo'));
const twoTasks = { ...CLAIMS, authorized_tasks: ['reporting', 'support'] };

const allow = (claims: Record<string, unknown>, call: McpCall) => {
  if (!decide(policy, { claims, requestedTask: undefined, call }).allow) throw new Error('expected allow');
};
const deny = (claims: Record<string, unknown>, call: McpCall) => {
  if (decide(policy, { claims, requestedTask: undefined, call }).allow) throw new Error('expected deny');
};

describe('decide (compiled policy)', () => {
  bench('allow: exact tool, no condition', () => allow(CLAIMS, echo));
  bench('allow: 2026 headers-only call', () => allow(CLAIMS, headersOnly));
  bench('allow: prefix pattern (billing.*)', () => allow(CLAIMS, prefixed));
  bench('allow: CEL condition true (amount <= jwt.refund_limit)', () => allow(CLAIMS, refundOk));
  bench('deny: CEL condition false, message rendered', () => deny(CLAIMS, refundOver));
  bench('deny: tool in no task, two tasks tried', () => deny(twoTasks, notListed));
});
