// toolgate's ProcessingResponse as a plain object, and its encoding straight to Envoy's wire format.
import { newWriter, tag, LENGTH, VARINT, writeHeaderValueOption, type HeaderValueOption, type Writer } from './wire-writer.js';

/** envoy.service.ext_proc.v3.HeaderMutation. */
export interface HeaderMutation {
  set_headers?: HeaderValueOption[];
  remove_headers?: string[];
}

/** envoy.service.ext_proc.v3.CommonResponse, the fields toolgate sets. */
export interface CommonResponse {
  status?: keyof typeof RESPONSE_STATUS;
  header_mutation?: HeaderMutation;
  /** BodyMutation, a oneof: the new body, or clear_body. */
  body_mutation?: { body?: Buffer; clear_body?: boolean };
  clear_route_cache?: boolean;
}

/** envoy.extensions.filters.http.ext_proc.v3.ProcessingMode, by enum name. */
export interface ProcessingMode {
  request_header_mode?: keyof typeof HEADER_SEND_MODE;
  response_header_mode?: keyof typeof HEADER_SEND_MODE;
  request_body_mode?: keyof typeof BODY_SEND_MODE;
  response_body_mode?: keyof typeof BODY_SEND_MODE;
  request_trailer_mode?: keyof typeof HEADER_SEND_MODE;
  response_trailer_mode?: keyof typeof HEADER_SEND_MODE;
}

/** envoy.service.ext_proc.v3.ProcessingResponse: one answer (the oneof) and, on a headers answer, a mode override. */
export interface ProcessingResponse {
  request_headers?: { response?: CommonResponse };
  response_headers?: { response?: CommonResponse };
  request_body?: { response?: CommonResponse };
  response_body?: { response?: CommonResponse };
  request_trailers?: { header_mutation?: HeaderMutation };
  response_trailers?: { header_mutation?: HeaderMutation };
  immediate_response?: { status?: { code: number }; headers?: HeaderMutation; body?: Buffer; details?: string };
  mode_override?: ProcessingMode;
}

const RESPONSE_STATUS = { CONTINUE: 0, CONTINUE_AND_REPLACE: 1 } as const;
const HEADER_SEND_MODE = { DEFAULT: 0, SEND: 1, SKIP: 2 } as const;
const BODY_SEND_MODE = { NONE: 0, STREAMED: 1, BUFFERED: 2, BUFFERED_PARTIAL: 3 } as const;

/**
 * grpc-js's `responseSerialize` for ExternalProcessor/Process. Fields go out in field-number order, each only when
 * set, as protobufjs's generated encoder writes them (test/contract/lean-codec-process.test.ts holds the two to the
 * same bytes): request_headers = 1, response_headers = 2, request_body = 3, response_body = 4, request_trailers = 5,
 * response_trailers = 6, immediate_response = 7, mode_override = 9.
 */
export function encodeProcessingResponse(res: ProcessingResponse): Buffer {
  const w = newWriter();
  if (res.request_headers != null) writeCommonHolder(w, 1, res.request_headers);
  if (res.response_headers != null) writeCommonHolder(w, 2, res.response_headers);
  if (res.request_body != null) writeCommonHolder(w, 3, res.request_body);
  if (res.response_body != null) writeCommonHolder(w, 4, res.response_body);
  if (res.request_trailers != null) writeTrailersResponse(w, 5, res.request_trailers);
  if (res.response_trailers != null) writeTrailersResponse(w, 6, res.response_trailers);
  if (res.immediate_response != null) writeImmediate(w, res.immediate_response);
  if (res.mode_override != null) writeMode(w, res.mode_override);
  return w.finish() as Buffer;
}

/** HeadersResponse and BodyResponse alike: response (CommonResponse) = 1. */
function writeCommonHolder(w: Writer, field: number, holder: { response?: CommonResponse }): void {
  w.uint32(tag(field, LENGTH)).fork();
  if (holder.response != null) {
    w.uint32(tag(1, LENGTH)).fork();
    writeCommon(w, holder.response);
    w.ldelim();
  }
  w.ldelim();
}

/** CommonResponse: status = 1, header_mutation = 2, body_mutation = 3 (body = 1, clear_body = 2), clear_route_cache = 5. */
function writeCommon(w: Writer, common: CommonResponse): void {
  if (common.status != null) w.uint32(tag(1, VARINT)).int32(RESPONSE_STATUS[common.status]);
  if (common.header_mutation != null) writeHeaderMutation(w, 2, common.header_mutation);
  if (common.body_mutation != null) {
    w.uint32(tag(3, LENGTH)).fork();
    if (common.body_mutation.body != null) w.uint32(tag(1, LENGTH)).bytes(common.body_mutation.body);
    if (common.body_mutation.clear_body != null) w.uint32(tag(2, VARINT)).bool(common.body_mutation.clear_body);
    w.ldelim();
  }
  if (common.clear_route_cache != null) w.uint32(tag(5, VARINT)).bool(common.clear_route_cache);
}

/** TrailersResponse: header_mutation = 1. */
function writeTrailersResponse(w: Writer, field: number, trailers: { header_mutation?: HeaderMutation }): void {
  w.uint32(tag(field, LENGTH)).fork();
  if (trailers.header_mutation != null) writeHeaderMutation(w, 1, trailers.header_mutation);
  w.ldelim();
}

/** HeaderMutation: set_headers = 1, remove_headers = 2. */
function writeHeaderMutation(w: Writer, field: number, mutation: HeaderMutation): void {
  w.uint32(tag(field, LENGTH)).fork();
  for (const option of mutation.set_headers ?? []) writeHeaderValueOption(w, 1, option);
  for (const name of mutation.remove_headers ?? []) w.uint32(tag(2, LENGTH)).string(name);
  w.ldelim();
}

/** ImmediateResponse (field 7): status = 1 (HttpStatus, code = 1), headers = 2, body = 3, details = 5. */
function writeImmediate(w: Writer, immediate: NonNullable<ProcessingResponse['immediate_response']>): void {
  w.uint32(tag(7, LENGTH)).fork();
  if (immediate.status != null) {
    w.uint32(tag(1, LENGTH)).fork();
    w.uint32(tag(1, VARINT)).int32(immediate.status.code);
    w.ldelim();
  }
  if (immediate.headers != null) writeHeaderMutation(w, 2, immediate.headers);
  if (immediate.body != null) w.uint32(tag(3, LENGTH)).bytes(immediate.body);
  if (immediate.details != null) w.uint32(tag(5, LENGTH)).string(immediate.details);
  w.ldelim();
}

/** ProcessingMode (field 9): the six modes, fields 1 to 6, each written when set. */
function writeMode(w: Writer, mode: ProcessingMode): void {
  w.uint32(tag(9, LENGTH)).fork();
  const modes: ReadonlyArray<number | undefined> = [
    mode.request_header_mode === undefined ? undefined : HEADER_SEND_MODE[mode.request_header_mode],
    mode.response_header_mode === undefined ? undefined : HEADER_SEND_MODE[mode.response_header_mode],
    mode.request_body_mode === undefined ? undefined : BODY_SEND_MODE[mode.request_body_mode],
    mode.response_body_mode === undefined ? undefined : BODY_SEND_MODE[mode.response_body_mode],
    mode.request_trailer_mode === undefined ? undefined : HEADER_SEND_MODE[mode.request_trailer_mode],
    mode.response_trailer_mode === undefined ? undefined : HEADER_SEND_MODE[mode.response_trailer_mode],
  ];
  modes.forEach((value, i) => {
    if (value !== undefined) w.uint32(tag(i + 1, VARINT)).int32(value);
  });
  w.ldelim();
}
