// Envoy's CheckRequest, decoded into the few values toolgate reads and nothing else.
import { LEAN_CHECK_REQUEST } from './lean-types.js';
import { present } from './present.js';

/** What the Check adapter reads (src/envoy/check.ts): the HTTP request line, its headers and its body. */
export interface CheckRequest {
  attributes?: {
    request?: {
      http?: {
        method?: string;
        path?: string;
        headers?: Record<string, string>;
        body?: string;
        raw_body?: Buffer;
      };
    };
  };
}

interface DecodedHttp { method?: string; path?: string; headers?: Record<string, string>; body?: string; raw_body?: Buffer }

/**
 * grpc-js's `requestDeserialize` for Authorization/Check. Throws on bytes that are not a CheckRequest (grpc-js then
 * fails the call with INTERNAL, and Envoy answers with status_on_error). The values are the ones the full decoder
 * gave (proto-loader, src/envoy/protos.ts LOADER_OPTIONS): a field Envoy did not send stays undefined rather than
 * becoming "" (what the adapter's `:method` / `:path` fallbacks test), an empty header map is no `headers`.
 */
export function decodeCheckRequest(bytes: Buffer): CheckRequest {
  const m = LEAN_CHECK_REQUEST.decode(bytes) as { attributes?: { request?: { http?: DecodedHttp } } };
  if (!present(m, 'attributes')) return {};
  const attributes = m.attributes as NonNullable<typeof m.attributes>;
  if (!present(attributes, 'request')) return { attributes: {} };
  const request = attributes.request as NonNullable<typeof attributes.request>;
  if (!present(request, 'http')) return { attributes: { request: {} } };
  return { attributes: { request: { http: readHttp(request.http as DecodedHttp) } } };
}

function readHttp(h: DecodedHttp): NonNullable<NonNullable<NonNullable<CheckRequest['attributes']>['request']>['http']> {
  const http: DecodedHttp = {};
  if (present(h, 'method')) http.method = h.method;
  // The decoder's own map object, new for this message (a `__proto__` header is an own key there, as in toObject's copy).
  if (present(h, 'headers') && Object.keys(h.headers as object).length > 0) http.headers = h.headers;
  if (present(h, 'path')) http.path = h.path;
  if (present(h, 'body')) http.body = h.body;
  if (present(h, 'raw_body')) http.raw_body = h.raw_body;
  return http;
}
