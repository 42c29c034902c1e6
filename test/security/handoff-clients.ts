// What an attacker on toolgate's gRPC port can do without Envoy: ask Check for a handoff, open Process streams.
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { toStruct } from '../../src/envoy/struct.js';
import type { Msg } from '../contract/extproc-client.js';
import { checkClient } from '../harness/check-client.js';

export const NAMESPACE = 'envoy.filters.http.ext_authz';

/** A direct Check as Envoy would send it; returns the dynamic metadata of an allow (a captured handoff). */
export async function captureHandoff(port: number, opts: { jwt: string; requestId: string; body: string; headers?: Record<string, string> }): Promise<Record<string, unknown>> {
  const client = checkClient(port);
  try {
    const res = await client.check({
      token: opts.jwt,
      headers: { ':method': 'POST', ':path': '/mcp', accept: 'application/json, text/event-stream', 'x-request-id': opts.requestId, ...opts.headers },
      body: opts.body,
    });
    expect(res.allowed, `Check allowed ${opts.body}`).toBe(true);
    return res.metadata;
  } finally {
    client.close();
  }
}

/** One ext_proc message carrying `metadata` as Envoy's forwarded ext_authz namespace. */
export function requestHeaders(record: Record<string, string>, metadata: Record<string, unknown> | undefined, phase: 'request_headers' | 'response_headers' = 'request_headers'): Msg {
  const msg: Msg = {
    [phase]: { headers: { headers: Object.entries(record).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })) }, end_of_stream: false },
  };
  if (metadata) msg.metadata_context = { filter_metadata: { [NAMESPACE]: toStruct(metadata) } };
  return msg;
}

export function requestBody(text: string): Msg {
  return { request_body: { body: Buffer.from(text), end_of_stream: true } };
}

/** Every header value toolgate asked Envoy to set, or put on an immediate answer, across the answers given. */
export function headersToolgateSent(answers: readonly Msg[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of answers) {
    for (const phase of ['request_headers', 'request_body', 'response_headers', 'response_body']) {
      for (const h of a[phase]?.response?.header_mutation?.set_headers ?? []) out[h.header.key] = Buffer.from(h.header.raw_value).toString();
    }
    for (const h of a.immediate_response?.headers?.set_headers ?? []) out[h.header.key] = Buffer.from(h.header.raw_value).toString();
  }
  return out;
}

/** The immediate answer's HTTP status and parsed JSON body, or undefined when toolgate let the message through. */
export function immediate(answer: Msg): { status: number; body: any } | undefined {
  const imm = answer.immediate_response;
  if (!imm) return undefined;
  const raw = imm.body;
  const text = raw === undefined ? '' : Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw);
  const code = imm.status?.code;
  const status = typeof code === 'number' ? code : STATUS_NAMES[String(code)] ?? Number(code);
  return { status, body: text ? JSON.parse(text) : undefined };
}

const STATUS_NAMES: Record<string, number> = { OK: 200, Forbidden: 403, NotFound: 404, BadRequest: 400, InternalServerError: 500, ServiceUnavailable: 503 };

export function newRequestId(): string {
  return randomUUID();
}
