// envoy.service.ext_proc.v3.ExternalProcessor/Process: one stream per HTTP exchange; the loop only dispatches.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { fromStruct, type Struct } from '../struct.js';
import { METADATA_NAMESPACE } from '../check.js';
import { headerRecord, toProcessingResponse, type HeaderMapProto } from './convert.js';
import { advance, STREAM_START } from './stream-end.js';
import { CONTINUE, type AuthzContext, type ExchangeProcessor, type Step } from '../../pipeline/extproc/exchange.js';
import { errorReply } from '../../pipeline/extproc/replies.js';
import {
  bodyMatches, EXCHANGE_FINISHED, HANDOFF_FIELD, handoffRefusalMessage, verifyHandoff, type HandoffFailure, type VerifiedHandoff,
} from '../../core/session/handoff.js';
import type { Keyring } from '../../core/session/keys.js';
import type { Metrics } from '../../ports/telemetry/metrics.js';

interface ProcessingRequest {
  request_headers?: { headers?: HeaderMapProto; end_of_stream?: boolean };
  response_headers?: { headers?: HeaderMapProto; end_of_stream?: boolean };
  request_body?: { body?: Buffer; end_of_stream?: boolean };
  response_body?: { body?: Buffer; end_of_stream?: boolean };
  request_trailers?: unknown;
  response_trailers?: unknown;
  metadata_context?: { filter_metadata?: Record<string, Struct> };
  request?: string;
}

/** What a stream runs on, read per stream (the current config's). */
export interface Processors {
  /** The exchange for a stream whose handoff verified. */
  exchange(authz: AuthzContext): ExchangeProcessor;
  /**
   * The processor for an exchange ext_authz marked finished (`EXCHANGE_FINISHED`), reached through an Envoy config that
   * does not skip ext_proc on the mark; undefined where this config never finishes one (the stream is then refused).
   */
  finished(): ExchangeProcessor | undefined;
}

/** Hears a stream's first message (identity and request headers); the watch it returns times each phase and hears the end. */
export type StreamObserver = (authz: AuthzContext, requestHeaders: Readonly<Record<string, string>>) => StreamWatch;
export interface StreamWatch {
  phase(run: () => Promise<[Phase | undefined, Step]>): Promise<[Phase | undefined, Step]>;
  end(error?: unknown): void;
}
const UNWATCHED: StreamWatch = { phase: (run) => run(), end: () => undefined };

/**
 * `keyring` and `closeWaitMs` are read per stream (the current config's), so a reload that adds a session key verifies
 * with it at once. Nothing in a stream's metadata is believed until `verifyHandoff` says toolgate's own Check signed it
 * for this request; a stream that fails gets one immediate 403 per message and never reaches a processor.
 */
export function processHandler(processors: Processors, keyring: () => Keyring, closeWaitMs: () => number, log: Logger, metrics: Metrics, observe: StreamObserver = () => UNWATCHED): grpc.handleBidiStreamingCall<ProcessingRequest, Record<string, unknown>> {
  return (call) => {
    let processor: ExchangeProcessor | undefined;
    let watch: StreamWatch | undefined;
    let handoff: VerifiedHandoff | undefined;
    let requestId: string | undefined;
    let progress = STREAM_START;
    let ended = false;
    let closeWait: NodeJS.Timeout | undefined;
    // A stream lives only while toolgate has work in it. Ending it from here, right after the last answer, keeps
    // Envoy from half-closing it first at the end of a long exchange: Envoy 1.40 can crash when it half-closes a
    // stream that outlived its cached gRPC client and toolgate then closes (docs/envoy.md, fact 19).
    const finish = (err?: unknown) => {
      clearTimeout(closeWait);
      if (ended) return;
      ended = true;
      watch?.end(err);
      call.end();
    };
    // Except where Envoy holds its side open until the exchange is over (a routed call's buffered body): an end from
    // toolgate would then cost a reset (fact 26), so the stream waits for Envoy's half-close ('end' below). A call
    // that outlasts the wait is ended from here after all, long before Envoy's cached client can go (fact 19).
    const awaitEnvoysClose = () => {
      watch?.end();
      const ms = closeWaitMs();
      if (ms <= 0) return finish();
      closeWait = setTimeout(finish, ms);
    };
    // Envoy sends one message at a time and waits for its answer; the chain keeps answers in order regardless.
    let chain: Promise<void> = Promise.resolve();
    const refuse = (reason: HandoffFailure, detail: string, phase: Phase): ExchangeProcessor => {
      metrics.countHandoffRejection(reason);
      log.warn({ event: 'ext_proc.handoff-refused', reason, detail, phase, requestId: requestId?.slice(0, 128) }, 'ext_proc refused a stream: its ext_authz handoff did not verify');
      handoff = undefined;
      return refusing(reason);
    };
    call.on('data', (msg: ProcessingRequest) => {
      chain = chain.then(async () => {
        // Nothing can be answered on an ended stream; Envoy goes on without toolgate once it sees the end.
        if (ended) return;
        if (!processor) {
          const started = startStream(msg, keyring());
          requestId = started.requestId;
          if (started.kind === 'verified') {
            handoff = started.handoff;
            processor = processors.exchange(started.authz);
          } else if (started.kind === 'finished') {
            processor = processors.finished() ?? refuse('missing', 'the exchange is marked finished by ext_authz, which this config (gateway mode) never does', 'request_headers');
          } else {
            processor = started.kind === 'refused' ? refuse(started.reason, started.detail, 'request_headers') : PASS_THROUGH;
          }
          watch = observe(started.authz, started.headers);
        }
        // The body ext_proc routes must be the body Check judged: the gateway reads it, and acts on it.
        if (msg.request_body && handoff && !bodyMatches(handoff, msg.request_body.body ?? Buffer.alloc(0))) {
          processor = refuse('body-mismatch', 'the request body differs from the one ext_authz judged', 'request_body');
        }
        const current = processor;
        const [phase, step] = await (watch ?? UNWATCHED).phase(() => dispatch(current, msg));
        if (!phase) return;
        if (step.kind === 'continue' && step.endStream === 'instead') return finish();
        call.write(toProcessingResponse(phase, step));
        progress = advance(progress, phase, endOfStream(msg), step);
        if (progress.done && progress.envoyClosesLater) awaitEnvoysClose();
        else if (progress.done || (step.kind === 'continue' && step.endStream === 'after')) finish();
      }).catch((err: unknown) => {
        // A broken exchange fails closed for its own request only.
        log.error({ event: 'ext_proc.failed', err }, 'ext_proc phase failed; answering 500');
        if (!ended) call.write(toProcessingResponse('request_headers', internalError()));
        finish(err);
      });
    });
    call.on('end', () => { void chain.then(() => finish()); });
    call.on('error', () => { clearTimeout(closeWait); ended = true; watch?.end(); });
    call.on('cancelled', () => { clearTimeout(closeWait); ended = true; watch?.end(); });
  };
}

function endOfStream(msg: ProcessingRequest): boolean {
  const part = msg.request_headers ?? msg.request_body ?? msg.response_headers ?? msg.response_body;
  return !!part?.end_of_stream;
}

/** No identity at all: what a stream runs on when nothing verified. */
const NO_AUTHZ: AuthzContext = Object.freeze({ subject: undefined, task: undefined, decisionId: undefined, method: undefined, target: undefined, tasks: [] });

/**
 * A stream that starts with anything but request headers is a reply Envoy or a filter before ext_proc made itself
 * (an ext_authz denial, a direct response): no request went upstream and no Check allowed anything, so toolgate
 * changes nothing in it, and its metadata is not read at all.
 */
const PASS_THROUGH: ExchangeProcessor = Object.freeze({
  requestHeaders: () => CONTINUE,
  requestBody: () => CONTINUE,
  responseHeaders: () => CONTINUE,
  responseBody: () => CONTINUE,
});

type Started =
  | { readonly kind: 'verified'; readonly authz: AuthzContext; readonly handoff: VerifiedHandoff; readonly headers: Record<string, string>; readonly requestId: string | undefined }
  | { readonly kind: 'refused'; readonly authz: AuthzContext; readonly reason: HandoffFailure; readonly detail: string; readonly headers: Record<string, string>; readonly requestId: string | undefined }
  | { readonly kind: 'pass-through'; readonly authz: AuthzContext; readonly headers: Record<string, string>; readonly requestId: undefined }
  | { readonly kind: 'finished'; readonly authz: AuthzContext; readonly headers: Record<string, string>; readonly requestId: string | undefined };

function startStream(msg: ProcessingRequest, keyring: Keyring): Started {
  if (!msg.request_headers) return { kind: 'pass-through', authz: NO_AUTHZ, headers: headerRecord(msg.response_headers?.headers), requestId: undefined };
  const headers = headerRecord(msg.request_headers.headers);
  const requestId = headers['x-request-id'];
  const meta = fromStruct(msg.metadata_context?.filter_metadata?.[METADATA_NAMESPACE]);
  // The mark alone, no handoff: ext_authz finished this exchange (a handoff next to it is verified as any other).
  if (meta[EXCHANGE_FINISHED.key] === EXCHANGE_FINISHED.value && meta[HANDOFF_FIELD.mac] === undefined) return { kind: 'finished', authz: NO_AUTHZ, headers, requestId };
  const checked = verifyHandoff(keyring, meta, requestId);
  if (!checked.ok) return { kind: 'refused', authz: NO_AUTHZ, reason: checked.reason, detail: checked.detail, headers, requestId };
  return { kind: 'verified', authz: authzContext(checked.fields), handoff: checked, headers, requestId };
}

/** Answers every message of a refused stream with the same 403: no processor, no backend, no token. */
function refusing(reason: HandoffFailure): ExchangeProcessor {
  const step = errorReply(null, 'handoff-invalid', handoffRefusalMessage(reason));
  return { requestHeaders: () => step, requestBody: () => step, responseHeaders: () => step, responseBody: () => step };
}

export type Phase = 'request_headers' | 'request_body' | 'response_headers' | 'response_body';

async function dispatch(p: ExchangeProcessor, msg: ProcessingRequest): Promise<[Phase | undefined, Step]> {
  if (msg.request_headers) {
    return ['request_headers', await p.requestHeaders({ headers: headerRecord(msg.request_headers.headers), endOfStream: !!msg.request_headers.end_of_stream })];
  }
  if (msg.request_body) return ['request_body', await p.requestBody(msg.request_body.body ?? Buffer.alloc(0), !!msg.request_body.end_of_stream)];
  if (msg.response_headers) {
    return ['response_headers', await p.responseHeaders({ headers: headerRecord(msg.response_headers.headers), endOfStream: !!msg.response_headers.end_of_stream })];
  }
  if (msg.response_body) return ['response_body', await p.responseBody(msg.response_body.body ?? Buffer.alloc(0), !!msg.response_body.end_of_stream)];
  // Trailers are not requested by toolgate's processing mode; nothing to answer if they arrive anyway.
  return [undefined, { kind: 'continue' }];
}

/** The identity and decision ext_authz proved, read only from fields its signature covered. */
function authzContext(meta: Readonly<Record<string, unknown>>): AuthzContext {
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return { subject: str(meta.subject), task: str(meta.task), decisionId: str(meta.decision_id), method: str(meta.method), target: str(meta.target), tasks: Array.isArray(meta.tasks) ? meta.tasks.filter((t): t is string => typeof t === 'string') : [], traceparent: str(meta.traceparent), charged: charged(meta.charged), chargedDryRun: charged(meta.charged_dry_run) };
}

function charged(v: unknown): AuthzContext['charged'] {
  if (typeof v !== 'object' || v === null) return undefined;
  const { receipt, keys } = v as { receipt?: unknown; keys?: unknown };
  if (typeof receipt !== 'string' || !Array.isArray(keys)) return undefined;
  return { receipt, keys: keys.filter((k): k is string => typeof k === 'string') };
}

function internalError(): Step {
  return errorReply(null, 'internal-error', 'The gateway failed while processing this request; it was not completed.');
}
