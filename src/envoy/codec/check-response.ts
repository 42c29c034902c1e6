// toolgate's CheckResponse as a plain object, and its encoding straight to Envoy's wire format.
import { nested, newWriter, tag, VARINT, LENGTH, writeHeaderValueOption, writeStruct, type HeaderValueOption, type Writer } from './wire-writer.js';

/**
 * envoy.service.auth.v3.CheckResponse, the fields toolgate sets. `dynamic_metadata` is the plain object: it is
 * written as a google.protobuf.Struct by the encoder (test/unit/lean-codec.test.ts holds it to the full encoder's bytes).
 */
export interface CheckResponse {
  status: { code: number; message?: string };
  ok_response?: {
    headers: HeaderValueOption[];
    headers_to_remove: string[];
    response_headers_to_add: HeaderValueOption[];
  };
  denied_response?: { status: { code: number }; headers: HeaderValueOption[]; body: string };
  dynamic_metadata?: Readonly<Record<string, unknown>>;
}

/**
 * grpc-js's `responseSerialize` for Authorization/Check. Fields go out in field-number order, each only when set,
 * as protobufjs's generated encoder writes them: CheckResponse status = 1, denied_response = 2, ok_response = 3,
 * dynamic_metadata = 4 (envoy/service/auth/v3/external_auth.proto).
 */
export function encodeCheckResponse(res: CheckResponse): Buffer {
  const w = newWriter();
  if (res.status != null) {
    nested(w, 1, (s) => {
      // google.rpc.Status: code = 1, message = 2.
      s.uint32(tag(1, VARINT)).int32(res.status.code);
      if (res.status.message != null) s.uint32(tag(2, LENGTH)).string(res.status.message);
    });
  }
  if (res.denied_response != null) nested(w, 2, (d) => writeDenied(d, res.denied_response as NonNullable<CheckResponse['denied_response']>));
  if (res.ok_response != null) nested(w, 3, (o) => writeOk(o, res.ok_response as NonNullable<CheckResponse['ok_response']>));
  if (res.dynamic_metadata != null) writeStruct(w, 4, res.dynamic_metadata);
  return w.finish() as Buffer;
}

/** DeniedHttpResponse: status = 1 (envoy.type.v3.HttpStatus, code = 1), headers = 2, body = 3. */
function writeDenied(w: Writer, denied: NonNullable<CheckResponse['denied_response']>): void {
  if (denied.status != null) nested(w, 1, (s) => s.uint32(tag(1, VARINT)).int32(denied.status.code));
  for (const h of denied.headers ?? []) writeHeaderValueOption(w, 2, h);
  if (denied.body != null) w.uint32(tag(3, LENGTH)).string(denied.body);
}

/** OkHttpResponse: headers = 2, headers_to_remove = 5, response_headers_to_add = 6. */
function writeOk(w: Writer, ok: NonNullable<CheckResponse['ok_response']>): void {
  for (const h of ok.headers ?? []) writeHeaderValueOption(w, 2, h);
  for (const name of ok.headers_to_remove ?? []) w.uint32(tag(5, LENGTH)).string(name);
  for (const h of ok.response_headers_to_add ?? []) writeHeaderValueOption(w, 6, h);
}
