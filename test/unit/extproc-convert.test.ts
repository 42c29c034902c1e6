import { describe, expect, it } from 'vitest';
import { headerRecord, toProcessingResponse } from '../../src/envoy/process/convert.js';

describe('ext_proc conversion', () => {
  it('reads raw_value headers, falls back to value, lower-cases and joins repeats', () => {
    const rec = headerRecord({
      headers: [
        { key: ':method', raw_value: Buffer.from('POST') },
        { key: 'Mcp-Session-Id', raw_value: Buffer.from('abc') },
        { key: 'x-old', value: 'v' },
        { key: 'accept', raw_value: Buffer.from('application/json') },
        { key: 'accept', raw_value: Buffer.from('text/event-stream') },
      ],
    });
    expect(rec).toEqual({ ':method': 'POST', 'mcp-session-id': 'abc', 'x-old': 'v', accept: 'application/json,text/event-stream' });
  });

  it('sends header values in raw_value only', () => {
    const out = toProcessingResponse('request_headers', { kind: 'continue', set: { 'x-toolgate-backend': 'billing' }, remove: ['x-toolgate-evil'] }) as any;
    const mutation = out.request_headers.response.header_mutation;
    expect(mutation.set_headers).toEqual([
      { header: { key: 'x-toolgate-backend', raw_value: Buffer.from('billing') }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    ]);
    expect(mutation.set_headers[0].header.value).toBeUndefined();
    expect(mutation.remove_headers).toEqual(['x-toolgate-evil']);
  });

  it('sets content-length to the byte length of a replaced body and can clear the route cache', () => {
    const body = '{"name":"réfund"}';
    const out = toProcessingResponse('request_body', { kind: 'continue', body, set: { 'x-toolgate-backend': 'b' }, clearRouteCache: true }) as any;
    const common = out.request_body.response;
    expect(common.body_mutation.body.toString('utf8')).toBe(body);
    const cl = common.header_mutation.set_headers.find((h: any) => h.header.key === 'content-length');
    expect(cl.header.raw_value.toString()).toBe(String(Buffer.byteLength(body)));
    expect(common.clear_route_cache).toBe(true);
  });

  it('replaces a streamed chunk without touching content-length, and clears it to hold bytes back', () => {
    expect(toProcessingResponse('response_body', { kind: 'continue', chunk: Buffer.from('data: x\n\n') })).toEqual({
      response_body: { response: { status: 'CONTINUE', body_mutation: { body: Buffer.from('data: x\n\n') } } },
    });
    expect(toProcessingResponse('response_body', { kind: 'continue', chunk: Buffer.alloc(0) })).toEqual({
      response_body: { response: { status: 'CONTINUE', body_mutation: { clear_body: true } } },
    });
  });

  it('spells out every phase in a mode override, only on headers responses', () => {
    const mode = { requestBody: 'NONE', responseHeaders: 'SEND', responseBody: 'BUFFERED' } as const;
    const onHeaders = toProcessingResponse('response_headers', { kind: 'continue', mode }) as any;
    expect(onHeaders.mode_override).toEqual({
      request_header_mode: 'SEND', request_body_mode: 'NONE', response_header_mode: 'SEND',
      response_body_mode: 'BUFFERED', request_trailer_mode: 'SKIP', response_trailer_mode: 'SKIP',
    });
    expect((toProcessingResponse('request_body', { kind: 'continue', mode }) as any).mode_override).toBeUndefined();
  });

  it('turns an immediate step into an immediate_response', () => {
    const out = toProcessingResponse('request_body', { kind: 'immediate', status: 404, headers: { 'content-type': 'application/json' }, body: '{}' }) as any;
    expect(out.immediate_response.status).toEqual({ code: 404 });
    expect(out.immediate_response.body.toString()).toBe('{}');
    expect(out.immediate_response.headers.set_headers[0].header.raw_value.toString()).toBe('application/json');
  });
});
