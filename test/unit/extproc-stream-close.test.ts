// Who ends an ext_proc stream, and when (docs/envoy.md, facts 19 and 26): toolgate ends it right after its last answer
// where Envoy closes on that answer too, but after a routed call's buffered body it waits for Envoy's half-close (an end
// from toolgate there made Envoy reset the stream), and ends it itself only when the call outlasts extProcCloseWait.
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { processHandler } from '../../src/envoy/process/stream.js';
import { METADATA_NAMESPACE } from '../../src/envoy/check.js';
import { toStruct } from '../../src/envoy/struct.js';
import { signHandoff } from '../../src/core/session/handoff.js';
import { createKeyring } from '../../src/core/session/keys.js';
import type { ExchangeProcessor, ModeOverride } from '../../src/pipeline/extproc/exchange.js';
import { createMetrics } from '../../src/ports/telemetry/metrics.js';

const keyring = createKeyring({ current: { kid: 'k1', secret: 'stream-close-test-secret-0123456789abcdef' } });
const BODY = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"billing.echo","arguments":{}}}';
const CLOSE_WAIT_MS = 30_000;

const BUFFER_REQUEST: ModeOverride = { requestBody: 'BUFFERED', responseHeaders: 'SKIP', responseBody: 'NONE' };
const PASS_THROUGH: ModeOverride = { requestBody: 'NONE', responseHeaders: 'SKIP', responseBody: 'NONE' };

/** The gateway's routed call and the sidecar's pass-through call, as far as their processing modes go. */
const routedCall: ExchangeProcessor = {
  requestHeaders: () => ({ kind: 'continue', mode: BUFFER_REQUEST }),
  requestBody: () => ({ kind: 'continue', set: { 'x-toolgate-backend': 'billing' }, clearRouteCache: true }),
  responseHeaders: () => ({ kind: 'continue' }),
  responseBody: () => ({ kind: 'continue' }),
};
const passThroughCall: ExchangeProcessor = { ...routedCall, requestHeaders: () => ({ kind: 'continue', mode: PASS_THROUGH }) };

/** A bidi call as the handler sees it: Envoy's messages in through 'data', toolgate's answers out through write and end. */
class FakeCall extends EventEmitter {
  readonly written: unknown[] = [];
  ended = false;
  write(message: unknown): boolean {
    this.written.push(message);
    return true;
  }
  end(): void {
    this.ended = true;
  }
}

function open(processor: ExchangeProcessor): FakeCall {
  const handle = processHandler({ exchange: () => processor, finished: () => undefined }, () => keyring, () => CLOSE_WAIT_MS, pino({ level: 'silent' }), createMetrics());
  const call = new FakeCall();
  handle(call as never);
  return call;
}

function requestHeaders(): Record<string, unknown> {
  const requestId = 'req-1';
  const signed = signHandoff(keyring, { subject: 'agent-7', method: 'tools/call', target: 'billing.echo' }, { requestId, body: Buffer.from(BODY) });
  const headers = { ':method': 'POST', ':path': '/mcp', 'x-request-id': requestId };
  return {
    request_headers: { headers: { headers: Object.entries(headers).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })) }, end_of_stream: false },
    metadata_context: { filter_metadata: { [METADATA_NAMESPACE]: toStruct(signed) } },
  };
}

/** Lets the handler's promise chain run (it answers each message asynchronously). */
const settle = () => vi.advanceTimersByTimeAsync(0);

describe('ending an ext_proc stream', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('after a routed call\'s buffered body, waits for Envoy to half-close, then ends the stream', async () => {
    const call = open(routedCall);
    call.emit('data', requestHeaders());
    call.emit('data', { request_body: { body: Buffer.from(BODY), end_of_stream: true } });
    await settle();
    expect(call.written).toHaveLength(2);
    expect(call.ended).toBe(false);
    // The call is answered upstream; at the end of the exchange Envoy half-closes, and toolgate ends its side.
    await vi.advanceTimersByTimeAsync(CLOSE_WAIT_MS - 1);
    expect(call.ended).toBe(false);
    call.emit('end');
    await settle();
    expect(call.ended).toBe(true);
  });

  it('ends the stream itself when the call outlasts extProcCloseWait', async () => {
    const call = open(routedCall);
    call.emit('data', requestHeaders());
    call.emit('data', { request_body: { body: Buffer.from(BODY), end_of_stream: true } });
    await settle();
    expect(call.ended).toBe(false);
    await vi.advanceTimersByTimeAsync(CLOSE_WAIT_MS);
    expect(call.ended).toBe(true);
  });

  it('forgets the wait when Envoy cancels the stream', async () => {
    const call = open(routedCall);
    call.emit('data', requestHeaders());
    call.emit('data', { request_body: { body: Buffer.from(BODY), end_of_stream: true } });
    await settle();
    call.emit('cancelled');
    expect(vi.getTimerCount()).toBe(0);
    expect(call.ended).toBe(false);
  });

  it('ends at once where Envoy closes on the same answer (a pass-through call\'s request headers)', async () => {
    const call = open(passThroughCall);
    call.emit('data', requestHeaders());
    await settle();
    expect(call.written).toHaveLength(1);
    expect(call.ended).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});
