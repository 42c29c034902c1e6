// Converts plain steps to ext_proc protos and Envoy's HeaderMap to a plain record.
import type { ContinueStep, HeaderChanges, ImmediateStep, ModeOverride, Step } from '../../pipeline/extproc/exchange.js';
import type { HeaderMapProto } from '../codec/processing-request.js';
import type { CommonResponse, HeaderMutation, ProcessingMode, ProcessingResponse } from '../codec/processing-response.js';

type Phase = 'request_headers' | 'request_body' | 'response_headers' | 'response_body';

/** Envoy sends header values in raw_value (bytes); older builds used value. */
export function headerRecord(map: HeaderMapProto | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of map?.headers ?? []) {
    const value = h.raw_value && h.raw_value.length > 0 ? h.raw_value.toString('latin1') : (h.value ?? '');
    // A header without a name throws here (Envoy never sends one): the stream answers 500 and fails closed.
    const key = (h.key as string).toLowerCase();
    out[key] = key in out ? `${out[key]},${value}` : value;
  }
  return out;
}

/** Header values go back in raw_value only: value alone yields empty headers, both yields a 500. */
function mutation(changes: HeaderChanges): HeaderMutation {
  return {
    set_headers: Object.entries(changes.set ?? {}).map(([key, value]) => ({
      header: { key, raw_value: Buffer.from(value, 'latin1') },
      append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
    })),
    remove_headers: [...(changes.remove ?? [])],
  };
}

export function toProcessingResponse(phase: Phase, step: Step): ProcessingResponse {
  if (step.kind === 'immediate') return immediate(step);
  return continueResponse(phase, step);
}

function continueResponse(phase: Phase, step: ContinueStep): ProcessingResponse {
  const set = { ...(step.set ?? {}) };
  const remove = [...(step.remove ?? [])];
  const common: CommonResponse = { status: 'CONTINUE' };
  if (step.body !== undefined) {
    const body = typeof step.body === 'string' ? Buffer.from(step.body, 'utf8') : step.body;
    common.body_mutation = { body };
    // Envoy rejects a replaced buffered body whose content-length no longer matches.
    set['content-length'] = String(body.length);
  }
  // An empty chunk replacement holds the bytes back; Envoy takes clear_body for that.
  if (step.chunk !== undefined) common.body_mutation = step.chunk.length > 0 ? { body: step.chunk } : { clear_body: true };
  if (Object.keys(set).length > 0 || remove.length > 0) common.header_mutation = mutation({ set, remove });
  if (step.clearRouteCache) common.clear_route_cache = true;
  const out: ProcessingResponse = {};
  out[phase] = { response: common };
  if (step.mode && (phase === 'request_headers' || phase === 'response_headers')) out.mode_override = modeProto(step.mode);
  return out;
}

function immediate(step: ImmediateStep): ProcessingResponse {
  return {
    immediate_response: {
      status: { code: step.status },
      headers: mutation({ set: step.headers }),
      body: Buffer.from(step.body, 'utf8'),
      details: 'toolgate',
    },
  };
}

function modeProto(mode: ModeOverride): ProcessingMode {
  return {
    request_header_mode: 'SEND',
    request_body_mode: mode.requestBody,
    response_header_mode: mode.responseHeaders,
    response_body_mode: mode.responseBody,
    request_trailer_mode: 'SKIP',
    response_trailer_mode: 'SKIP',
  };
}
