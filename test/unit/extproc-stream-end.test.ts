import { describe, expect, it } from 'vitest';
import { advance, STREAM_START, type StreamProgress } from '../../src/envoy/process/stream-end.js';
import type { ModeOverride, Step } from '../../src/pipeline/extproc/exchange.js';

// The overrides the routers use (src/pipeline/extproc/{sidecar,gateway}.ts), spelled out so a change there is a change here.
const PASS_THROUGH: ModeOverride = { requestBody: 'NONE', responseHeaders: 'SKIP', responseBody: 'NONE' };
const WATCH_RESPONSE: ModeOverride = { requestBody: 'NONE', responseHeaders: 'SEND', responseBody: 'NONE' };
const BUFFER_REQUEST: ModeOverride = { requestBody: 'BUFFERED', responseHeaders: 'SKIP', responseBody: 'NONE' };
const BUFFER_LIST: ModeOverride = { requestBody: 'NONE', responseHeaders: 'SEND', responseBody: 'BUFFERED' };

const go = (mode?: ModeOverride): Step => (mode ? { kind: 'continue', mode } : { kind: 'continue' });
const reply: Step = { kind: 'immediate', status: 404, headers: {}, body: '{}' };
const after = (mode: ModeOverride | undefined): StreamProgress => ({ mode, done: false, envoyClosesLater: false });

describe('when toolgate has given Envoy its last answer', () => {
  it.each([
    ['a routed gateway call, once its buffered body is answered', after(BUFFER_REQUEST), 'request_body', true, go(), true],
    ['a gateway call whose body is still to come', STREAM_START, 'request_headers', false, go(BUFFER_REQUEST), false],
    ['a gateway GET or DELETE with no body, routed on headers', STREAM_START, 'request_headers', true, go(BUFFER_REQUEST), true],
    ['a sidecar pass-through call, at its request headers', STREAM_START, 'request_headers', false, go(PASS_THROUGH), true],
    ['a sidecar initialize, whose response headers toolgate waits for', STREAM_START, 'request_headers', false, go(WATCH_RESPONSE), false],
    ['a sidecar initialize, once its response headers are answered', after(WATCH_RESPONSE), 'response_headers', false, go(), true],
    ['a sidecar list, whose buffered body toolgate asked for at its response headers', after(WATCH_RESPONSE), 'response_headers', false, go(BUFFER_LIST), false],
    ['a sidecar list, once its buffered body is answered', after(BUFFER_LIST), 'response_body', true, go(), true],
    ['a response without a body, whatever the body mode', after(BUFFER_LIST), 'response_headers', true, go(), true],
    ['an immediate response, in any phase', after(BUFFER_REQUEST), 'request_body', true, reply, true],
    ['an immediate response before any mode was set', STREAM_START, 'request_headers', false, reply, true],
    ['a stream where toolgate never set a mode (the filter\'s own mode may send more)', STREAM_START, 'request_headers', false, go(), false],
  ] as const)('%s', (_name, progress, phase, endOfStream, step, done) => {
    expect(advance(progress, phase, endOfStream, step).done).toBe(done);
  });

  it('keeps the mode of a headers answer for the phases after it, and ignores a mode on a body answer', () => {
    const afterHeaders = advance(STREAM_START, 'request_headers', false, go(BUFFER_REQUEST));
    expect(afterHeaders.mode).toEqual(BUFFER_REQUEST);
    // Envoy ignores mode_override outside headers answers, so toolgate must too.
    const afterBody = advance(afterHeaders, 'request_body', true, go(WATCH_RESPONSE));
    expect(afterBody).toEqual({ mode: BUFFER_REQUEST, done: true, envoyClosesLater: true });
  });
});

// Envoy closes a stream itself on the last answer it expects, except after a buffered request body: then only when the
// HTTP exchange is over, and an end from toolgate before that makes Envoy reset the stream (docs/envoy.md, fact 26).
describe('whether Envoy keeps the stream open after toolgate\'s last answer', () => {
  it.each([
    ['a routed gateway call, once its buffered body is answered: until the call is over', after(BUFFER_REQUEST), 'request_body', true, go(), true],
    ['the same call refused with an immediate response: Envoy answers and closes', after(BUFFER_REQUEST), 'request_body', true, reply, false],
    ['a gateway GET or DELETE routed on headers: closed on that answer', STREAM_START, 'request_headers', true, go(BUFFER_REQUEST), false],
    ['a sidecar pass-through call: closed on the headers answer', STREAM_START, 'request_headers', false, go(PASS_THROUGH), false],
    ['a sidecar list, once its buffered body is answered: the exchange ends there', after(BUFFER_LIST), 'response_body', true, go(), false],
    ['a stream toolgate is not done with', STREAM_START, 'request_headers', false, go(BUFFER_REQUEST), false],
  ] as const)('%s', (_name, progress, phase, endOfStream, step, later) => {
    expect(advance(progress, phase, endOfStream, step).envoyClosesLater).toBe(later);
  });
});
