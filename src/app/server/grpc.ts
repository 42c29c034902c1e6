// The gRPC server that Envoy calls: ext_authz, ext_proc and grpc.health.v1 on one port.
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { AUTHZ_SERVICE, EXT_PROC_SERVICE, envoyServices } from '../../envoy/protos.js';
import { raiseStreamResetGuard } from './reset-guard.js';

/**
 * Envoy multiplexes every filter stream of a worker on one HTTP/2 connection, so the per-connection limits
 * are raised on purpose: grpc-js's default 10 MB session memory throws RESOURCE_EXHAUSTED under many streams.
 */
export function grpcServerOptions(maxBodyBytes: number): grpc.ServerOptions {
  return {
    // Node refuses new streams once its session-memory estimate passes this limit; grpc-js leaves it unlimited by
    // default and so does toolgate, on purpose (a finite value only adds a way to fail under many streams).
    'grpc-node.max_session_memory': Number.MAX_SAFE_INTEGER,
    'grpc.max_concurrent_streams': 10_000,
    'grpc.max_receive_message_length': maxBodyBytes + 256 * 1024,
    'grpc.max_send_message_length': maxBodyBytes + 256 * 1024,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  };
}

export interface GrpcServices {
  readonly authz: grpc.UntypedServiceImplementation;
  readonly extProc?: grpc.UntypedServiceImplementation;
}

export interface RunningGrpc {
  readonly port: number;
  readonly health: HealthImplementation;
  setServing(serving: boolean): void;
  shutdown(graceMs: number): Promise<void>;
}

export async function startGrpc(
  host: string,
  port: number,
  services: GrpcServices,
  options: grpc.ServerOptions,
  credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
): Promise<RunningGrpc> {
  const server = new grpc.Server(options);
  // Before binding: grpc-js creates the HTTP/2 server then. Envoy resets a stream for every client that goes away.
  raiseStreamResetGuard(server);
  const defs = envoyServices();
  server.addService(defs.authz, services.authz);
  if (services.extProc) server.addService(defs.extProc, services.extProc);
  const names = ['', AUTHZ_SERVICE, ...(services.extProc ? [EXT_PROC_SERVICE] : [])];
  const health = new HealthImplementation(Object.fromEntries(names.map((n) => [n, 'SERVING'])));
  health.addToServer(server);

  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, credentials, (err, p) =>
      err ? reject(new Error(`cannot listen for gRPC on ${host}:${port}: ${err.message}`)) : resolve(p),
    );
  });

  return {
    port: bound,
    health,
    setServing(serving) {
      for (const n of names) health.setStatus(n, serving ? 'SERVING' : 'NOT_SERVING');
    },
    shutdown(graceMs) {
      return new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}
