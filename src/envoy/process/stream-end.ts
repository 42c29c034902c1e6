// Knows when toolgate has given Envoy its last answer on an ext_proc stream, so the stream can end right there.
import type { ModeOverride, Step } from '../../pipeline/extproc/exchange.js';

type Phase = 'request_headers' | 'request_body' | 'response_headers' | 'response_body';

export interface StreamProgress {
  /**
   * The processing mode toolgate asked for in a headers answer. Undefined until it asked: Envoy then follows the
   * filter's configured mode, which toolgate does not know, so it must assume more messages may come.
   */
  readonly mode: ModeOverride | undefined;
  /** toolgate answered the last message Envoy will send: nothing is left to do on this stream. */
  readonly done: boolean;
  /**
   * Done, but Envoy keeps its side of the stream open until the HTTP exchange is over: it closes a stream on the
   * last answer it expects only after an unbuffered phase (its early close skips buffered bodies). If toolgate ended
   * such a stream first, Envoy would answer with RST_STREAM, and Node's HTTP/2 server counts every reset it receives
   * against a rapid-reset budget that, once spent, drops Envoy's whole connection (docs/envoy.md, fact 26). So
   * toolgate waits for Envoy's half-close instead, up to `server.extProcCloseWait`.
   */
  readonly envoyClosesLater: boolean;
}

export const STREAM_START: StreamProgress = Object.freeze({ mode: undefined, done: false, envoyClosesLater: false });

/**
 * The progress after toolgate answered `phase` with `step`; `endOfStream` is the flag of the message answered
 * (headers without a body, the last body chunk). "Done" only when toolgate's own mode says it wants nothing more:
 * ending a stream tells Envoy to go on without toolgate, which must never skip a phase toolgate asked for.
 */
export function advance(progress: StreamProgress, phase: Phase, endOfStream: boolean, step: Step): StreamProgress {
  // Envoy sends nothing after an immediate response: it answers the client itself, and closes the stream.
  if (step.kind === 'immediate') return { mode: progress.mode, done: true, envoyClosesLater: false };
  // Envoy honours mode_override in headers answers only.
  const mode = (phase === 'request_headers' || phase === 'response_headers') && step.mode ? step.mode : progress.mode;
  if (mode === undefined) return { mode, done: false, envoyClosesLater: false };
  // toolgate's overrides always skip trailers (convert.ts), so headers and bodies are all that can still come.
  const responseQuiet = mode.responseHeaders === 'SKIP' && mode.responseBody === 'NONE';
  let done: boolean;
  switch (phase) {
    case 'request_headers':
      done = (endOfStream || mode.requestBody === 'NONE') && responseQuiet;
      break;
    case 'request_body':
      done = endOfStream && responseQuiet;
      break;
    case 'response_headers':
      done = endOfStream || mode.responseBody === 'NONE';
      break;
    case 'response_body':
      done = endOfStream;
      break;
  }
  // The request then goes upstream and the exchange lasts as long as the call. (A buffered response body is the end
  // of the exchange, so Envoy closes at once there.)
  const envoyClosesLater = done && phase === 'request_body' && (mode.requestBody === 'BUFFERED' || mode.requestBody === 'BUFFERED_PARTIAL');
  return { mode, done, envoyClosesLater };
}
