// Reading and classifying each request (`readRequest`: admission, strict JSON reading, `classify`): what ext_authz
// and the gateway's ext_proc do to every body they read.
import { bench, describe } from 'vitest';
import { readRequest } from '../../src/core/mcp/body.js';
import { call2025, call2026HeadersOnly } from './fixtures.js';

const small = call2025('echo', { text: 'hello from the toolgate benchmark' });
const refund = call2025('refund', { amount: 50, charge_id: 'ch_1234567890' });
const large = call2025('echo', { text: 'x'.repeat(16 * 1024), items: Array.from({ length: 100 }, (_, i) => ({ id: i, name: `item-${i}` })) });
const with2026Body = { ...call2025('echo', { text: 'hello' }), headers: { ...call2026HeadersOnly('echo').headers } };
const headersOnly = call2026HeadersOnly('echo');

const must = (facts: Parameters<typeof readRequest>[0]) => {
  if (readRequest(facts).type !== 'call') throw new Error('not classified as a call');
};

describe('classify', () => {
  bench('2025 tools/call, small body (~110 B)', () => must(small));
  bench('2025 tools/call, refund arguments', () => must(refund));
  bench('2025 tools/call, 20 KB body', () => must(large));
  bench('2026 tools/call with body (header/body agreement checked)', () => must(with2026Body));
  bench('2026 tools/call, headers only (fast path)', () => must(headersOnly));
});
