// Works around a memory leak of the MCP SDK (1.32) in the benchmark's backend process only.
//
// With `enableJsonResponse: true` on a stateful transport, WebStandardStreamableHTTPServerTransport.send() resolves
// the pending HTTP response but never runs the stream's `cleanup()` (only the SSE branch does), so `_streamMapping`
// keeps one entry — and the Request it closes over — per answered POST. A session that lives for the whole benchmark
// grew the backend by ~50 MB/s, to 3 GB, and its garbage collector drifted every scenario. The patch removes the
// entry once the SDK itself has released the request's correlation, exactly what the SSE branch does.
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';

interface TransportInternals {
  _enableJsonResponse: boolean;
  _streamMapping: Map<string, unknown>;
  _requestToStreamMapping: Map<string | number, string>;
}

type Send = WebStandardStreamableHTTPServerTransport['send'];

let installed = false;

export function installJsonResponseLeakFix(): void {
  if (installed) return;
  installed = true;
  const proto = WebStandardStreamableHTTPServerTransport.prototype;
  const original: Send = proto.send;
  proto.send = async function send(this: WebStandardStreamableHTTPServerTransport, message, options) {
    const self = this as unknown as TransportInternals;
    const requestId = 'id' in message && ('result' in message || 'error' in message) ? message.id : undefined;
    const streamId = requestId === undefined ? undefined : self._requestToStreamMapping.get(requestId);
    await original.call(this, message, options);
    if (!self._enableJsonResponse || streamId === undefined || requestId === undefined) return;
    // Answered: the SDK dropped the request's correlation. Drop the stream when no other request still uses it.
    if (self._requestToStreamMapping.has(requestId)) return;
    for (const sid of self._requestToStreamMapping.values()) if (sid === streamId) return;
    self._streamMapping.delete(streamId);
  };
}
