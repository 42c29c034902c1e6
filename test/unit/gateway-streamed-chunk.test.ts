// When toolgate's ext_proc stream for a call's event stream ends: never on an answer Envoy half-closes on.
import { describe, expect, it } from 'vitest';
import { createSseRewriter } from '../../src/pipeline/fanout/sse-rewrite.js';
import { streamedChunk } from '../../src/pipeline/extproc/gateway-server-requests.js';
import { toClientMessage } from '../../src/pipeline/extproc/reply-ids.js';

const rewriter = () => createSseRewriter((m) => toClientMessage(m, (id) => `b:${JSON.stringify(id)}`));
const progress = 'data: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}\n\n';
const request = 'data: {"method":"roots/list","jsonrpc":"2.0","id":0}\n\n';
const response = 'data: {"result":{},"jsonrpc":"2.0","id":7}\n\n';

describe('streamedChunk', () => {
  it('answers chunks before the response and keeps the stream', () => {
    const r = rewriter();
    expect(streamedChunk(r, Buffer.from(progress), false)).toEqual({ kind: 'continue', chunk: Buffer.from(progress) });
    expect(streamedChunk(r, Buffer.from(request), false)).toEqual({ kind: 'continue', chunk: Buffer.from('data: {"method":"roots/list","jsonrpc":"2.0","id":"b:0"}\n\n') });
  });

  it('ends the stream right after answering the chunk that completes the response', () => {
    const r = rewriter();
    expect(streamedChunk(r, Buffer.from(progress + response), false)).toEqual({ kind: 'continue', chunk: Buffer.from(progress + response), endStream: 'after' });
  });

  it('does not end it while bytes of a later event are held', () => {
    const r = rewriter();
    const step = streamedChunk(r, Buffer.from(`${response}data: {"jsonrpc"`), false);
    expect(step).toEqual({ kind: 'continue', chunk: Buffer.from(response) });
  });

  it('ends the stream instead of answering a last chunk that needs no change', () => {
    const r = rewriter();
    expect(streamedChunk(r, Buffer.from(response), true)).toEqual({ kind: 'continue', endStream: 'instead' });
    expect(streamedChunk(rewriter(), Buffer.alloc(0), true)).toEqual({ kind: 'continue', endStream: 'instead' });
  });

  it('answers a last chunk that changes (held bytes, or a request to rewrite)', () => {
    const r = rewriter();
    expect(streamedChunk(r, Buffer.from('data: {"method":"roots/list",'), false)).toEqual({ kind: 'continue', chunk: Buffer.alloc(0) });
    expect(streamedChunk(r, Buffer.from('"jsonrpc":"2.0","id":0}\n\n'), true)).toEqual({ kind: 'continue', chunk: Buffer.from('data: {"method":"roots/list","jsonrpc":"2.0","id":"b:0"}\n\n') });
  });
});
