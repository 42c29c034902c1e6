// The raised HTTP/2 reset guard: it reaches the installed grpc-js's private HTTP/2 options, and a grpc-js without them
// stops toolgate at start-up instead of leaving Node's defaults (a GOAWAY after ~1000 aborted requests).
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { raiseStreamResetGuard, STREAM_RESET_GUARD } from '../../src/app/server/reset-guard.js';

describe('raiseStreamResetGuard', () => {
  it('writes both limits into the options the installed grpc-js hands to http2.createServer', () => {
    const server = new grpc.Server({ 'grpc.max_concurrent_streams': 10 });
    raiseStreamResetGuard(server);
    // A grpc-js upgrade that renames or drops this field fails here, and toolgate refuses to start (next case).
    const options = (server as unknown as { commonServerOptions?: Record<string, unknown> }).commonServerOptions;
    expect(options).toMatchObject({ streamResetBurst: 100_000, streamResetRate: 100_000, settings: { maxConcurrentStreams: 10 } });
  });

  it('throws a start-up error naming the field when grpc-js no longer has it', () => {
    expect(() => raiseStreamResetGuard({} as grpc.Server)).toThrow(/no Server\.commonServerOptions.*drop Envoy's connection/s);
  });

  it.each(Object.entries(STREAM_RESET_GUARD))('keeps %s finite and inside a uint32 (Node wraps larger values to 0)', (_name, value) => {
    expect(Number.isInteger(value)).toBe(true);
    expect(value).toBeGreaterThan(1000);
    expect(value).toBeLessThan(2 ** 32);
  });
});
