// A simulated Envoy for fast ext_proc contract tests: drives one Process stream message by message.
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { fullEnvoyServices } from '../../src/envoy/protos.js';
import { toStruct } from '../../src/envoy/struct.js';
import { signHandoff, type HandoffValue } from '../../src/core/session/handoff.js';
import type { Keyring } from '../../src/core/session/keys.js';

export type Msg = Record<string, any>;

export interface ProcStream {
  send(msg: Msg): Promise<Msg>;
  end(): void;
  /** Settles with the status toolgate ended the stream with (whoever half-closed first). */
  readonly closed: Promise<grpc.StatusObject>;
}

export function extProcClient(port: number) {
  const Ctor = grpc.makeClientConstructor(fullEnvoyServices().extProc, 'ExternalProcessor');
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Process: () => grpc.ClientDuplexStream<Msg, Msg> };
  return {
    open(): ProcStream {
      const call = client.Process();
      const waiting: Array<(m: Msg) => void> = [];
      call.on('data', (m: Msg) => waiting.shift()?.(m));
      call.on('error', () => undefined);
      const closed = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      return {
        closed,
        send(msg) {
          return new Promise<Msg>((resolve) => {
            waiting.push(resolve);
            call.write(msg);
          });
        },
        end: () => call.end(),
      };
    },
    close: () => client.close(),
  };
}

export function headers(record: Record<string, string>, authz?: Record<string, unknown>, phase: 'request_headers' | 'response_headers' = 'request_headers'): Msg {
  const msg: Msg = {
    [phase]: { headers: { headers: Object.entries(record).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })) }, end_of_stream: false },
  };
  if (authz) msg.metadata_context = { filter_metadata: { 'envoy.filters.http.ext_authz': toStruct(authz) } };
  return msg;
}

/**
 * Request headers as Envoy sends them after toolgate's Check allowed the request: `authz` signed with the replica's
 * keyring (the handoff ext_proc verifies), bound to the message's `x-request-id` (a fresh one unless given) and,
 * when `requestBody` is given, to that body.
 */
export function checkedHeaders(keyring: Keyring, record: Record<string, string>, authz: Record<string, HandoffValue | undefined>, requestBody?: string): Msg {
  const requestId = record['x-request-id'] ?? randomUUID();
  const signed = signHandoff(keyring, authz, { requestId, body: requestBody === undefined ? undefined : Buffer.from(requestBody) });
  return headers({ ...record, 'x-request-id': requestId }, signed);
}

export function body(text: string, phase: 'request_body' | 'response_body' = 'request_body'): Msg {
  return { [phase]: { body: Buffer.from(text), end_of_stream: true } };
}

/** The header mutation of a continue response as a plain record. */
export function setHeaders(resp: Msg, phase: string): Record<string, string> {
  const set = resp[phase]?.response?.header_mutation?.set_headers ?? [];
  return Object.fromEntries(set.map((h: any) => [h.header.key, Buffer.from(h.header.raw_value).toString()]));
}
