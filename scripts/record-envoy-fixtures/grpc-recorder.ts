// A gRPC pass-through between Envoy and toolgate that keeps every Check and every Process message as raw bytes.
import * as grpc from '@grpc/grpc-js';
import { fullEnvoyServices } from '../../src/envoy/protos.js';
import { codecs, readable, type WireMessage } from '../../test/harness/envoy-fixtures.js';
import { freePort } from '../../test/harness/ports.js';

/** Bytes in, bytes out: nothing is decoded on the way, so what toolgate receives is exactly what Envoy sent. */
const raw = (b: Buffer): Buffer => b;
const MESSAGE_LIMIT = { 'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20 };

export interface CheckRecord { readonly label: string; readonly request: WireMessage; response?: WireMessage }
export interface StreamRecord {
  readonly label: string;
  readonly events: Array<WireMessage & { from: 'envoy' | 'toolgate' }>;
  endedBy: 'envoy' | 'toolgate' | 'open';
}

export interface GrpcRecorder {
  readonly port: number;
  readonly checks: CheckRecord[];
  readonly streams: StreamRecord[];
  /** The label every message recorded from now on carries (the scenario step the client is running). */
  label(name: string): void;
  /** True when no Check is waiting for toolgate and every Process stream has ended. */
  idle(): boolean;
  stop(): Promise<void>;
}

export async function startGrpcRecorder(toolgatePort: number): Promise<GrpcRecorder> {
  const c = codecs();
  const { authz, extProc } = fullEnvoyServices();
  const upstream = new grpc.Client(`127.0.0.1:${toolgatePort}`, grpc.credentials.createInsecure(), MESSAGE_LIMIT);
  const checks: CheckRecord[] = [];
  const streams: StreamRecord[] = [];
  let current = 'unlabelled';
  let pendingChecks = 0;
  const message = (bytes: Buffer, decode: (b: Buffer) => unknown): WireMessage => ({ at: Date.now(), wire: bytes.toString('base64'), view: readable(decode(bytes)) });

  const checkPath = (authz.Check as unknown as { path: string }).path;
  const processPath = (extProc.Process as unknown as { path: string }).path;
  const passThrough = (path: string, requestStream: boolean, responseStream: boolean) => ({
    path, requestStream, responseStream, originalName: path.split('/').pop(),
    requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw,
  });

  const check: grpc.handleUnaryCall<Buffer, Buffer> = (call, callback) => {
    const record: CheckRecord = { label: current, request: message(call.request, c.checkRequest) };
    checks.push(record);
    pendingChecks++;
    upstream.makeUnaryRequest(checkPath, raw, raw, call.request, call.metadata, (err, reply) => {
      pendingChecks--;
      if (reply) record.response = message(reply, c.checkResponse);
      callback(err, reply);
    });
  };

  const process: grpc.handleBidiStreamingCall<Buffer, Buffer> = (down) => {
    const record: StreamRecord = { label: current, events: [], endedBy: 'open' };
    streams.push(record);
    const up = upstream.makeBidiStreamRequest(processPath, raw, raw, down.metadata);
    down.on('data', (bytes: Buffer) => {
      record.events.push({ ...message(bytes, c.processingRequest), from: 'envoy' });
      up.write(bytes);
    });
    down.on('end', () => {
      if (record.endedBy === 'open') record.endedBy = 'envoy';
      up.end();
    });
    down.on('cancelled', () => up.cancel());
    up.on('data', (bytes: Buffer) => {
      record.events.push({ ...message(bytes, c.processingResponse), from: 'toolgate' });
      down.write(bytes);
    });
    up.on('end', () => {
      if (record.endedBy === 'open') record.endedBy = 'toolgate';
      down.end();
    });
    up.on('error', (err: grpc.ServiceError) => {
      if (record.endedBy === 'open') record.endedBy = 'toolgate';
      down.destroy(err);
    });
  };

  const server = new grpc.Server(MESSAGE_LIMIT);
  server.addService({ Check: passThrough(checkPath, false, false) } as unknown as grpc.ServiceDefinition, { Check: check });
  server.addService({ Process: passThrough(processPath, true, true) } as unknown as grpc.ServiceDefinition, { Process: process });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));

  return {
    port,
    checks,
    streams,
    label: (name) => { current = name; },
    idle: () => pendingChecks === 0 && streams.every((s) => s.endedBy !== 'open'),
    stop: () => new Promise<void>((resolve) => {
      upstream.close();
      server.tryShutdown(() => resolve());
      setTimeout(() => { server.forceShutdown(); resolve(); }, 2_000).unref();
    }),
  };
}
