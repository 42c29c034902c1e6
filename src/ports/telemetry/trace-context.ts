// Where a span's parent comes from (W3C trace context), and the one session value safe to put in a span.
import { createHash } from 'node:crypto';
import { ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

const propagator = new W3CTraceContextPropagator();

/** A W3C carrier: `traceparent` and optionally `tracestate`. */
export interface TraceCarrier {
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
}

const getter = {
  keys: (c: TraceCarrier) => Object.keys(c),
  get: (c: TraceCarrier, key: string) => (key === 'traceparent' ? c.traceparent : key === 'tracestate' ? c.tracestate : undefined),
};

/**
 * The parent context from the first carrier holding a valid `traceparent`: the HTTP headers come
 * before `params._meta` of the JSON-RPC body, so a proxy's or Envoy's own span is kept in the chain.
 */
export function parentContext(...carriers: ReadonlyArray<TraceCarrier | undefined>): Context {
  for (const carrier of carriers) {
    if (carrier?.traceparent === undefined) continue;
    const ctx = propagator.extract(ROOT_CONTEXT, carrier, getter);
    if (trace.getSpanContext(ctx) !== undefined) return ctx;
  }
  return ROOT_CONTEXT;
}

/** `traceparent`/`tracestate` of `params._meta`, when the body carried them. */
export function metaCarrier(params: Readonly<Record<string, unknown>>, traceparent: string | undefined): TraceCarrier | undefined {
  if (traceparent === undefined) return undefined;
  const meta = params._meta;
  const tracestate = typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>).tracestate : undefined;
  return { traceparent, tracestate: typeof tracestate === 'string' ? tracestate : undefined };
}

/**
 * The client's `Mcp-Session-Id` is a bearer credential (whoever holds it resumes the session), so
 * spans carry a short digest instead: stable for one session, useless to replay.
 */
export function sessionDigest(sessionId: string | undefined): string | undefined {
  if (sessionId === undefined || sessionId === '') return undefined;
  return createHash('sha256').update(sessionId).digest('base64url').slice(0, 16);
}
