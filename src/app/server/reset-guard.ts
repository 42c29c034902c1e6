// Node's HTTP/2 rapid-reset guard, raised for toolgate's gRPC server: its peer is Envoy, which resets a stream for every client that goes away.
import type * as grpc from '@grpc/grpc-js';
import type { ServerOptions as Http2ServerOptions } from 'node:http2';

/**
 * Node's HTTP/2 server counts the RST_STREAM frames it receives on a connection (the CVE-2023-44487 guard): past a
 * burst of `streamResetBurst`, refilled at `streamResetRate` per second (defaults 1000 and 33), it sends GOAWAY and
 * closes the connection. toolgate's only HTTP/2 peer is Envoy, and Envoy resets a Check or Process stream whenever
 * its client goes away mid-request; with the defaults, clients aborting more than 33 requests a second after a burst
 * of 1000 made toolgate drop Envoy's connection, and every other user's call on it failed with 503 (docs/envoy.md,
 * fact 28).
 *
 * Raising it is safe here. The guard keeps a peer from making a server start work on more streams than it allows at
 * once by resetting them as fast as it opens them. Envoy opens a stream to toolgate only for a request it has admitted
 * (headers and the whole body read, within the listener's limits), so every reset costs a client a whole request
 * first, and a reset adds no work in toolgate: the Check it cancels was already running. A peer that reaches the gRPC
 * port directly could make toolgate decide any number of Checks without resets as well; the port is fenced (bound to
 * 127.0.0.1 in the sidecar examples, a NetworkPolicy in the Istio manifests).
 *
 * The values stay finite: Node keeps them as unsigned 32-bit integers, where `Infinity` or 2^32 become 0, and the
 * connection then closes within the first few resets (measured on Node 24.22.3). 100 000 a second is far above the Checks one
 * connection can carry (toolgate spends hundreds of microseconds of CPU or more on each).
 */
export const STREAM_RESET_GUARD = Object.freeze({ streamResetBurst: 100_000, streamResetRate: 100_000 } satisfies Http2ServerOptions);

/** grpc-js (1.14) builds its HTTP/2 server from this private field: filled in its constructor, read when it binds. */
interface Http2OptionsHolder {
  commonServerOptions?: Http2ServerOptions;
}

/**
 * Raises the guard on a grpc-js server before it binds. grpc-js has no public option for it, so this writes the
 * private field it passes to `http2.createServer`; a grpc-js that no longer has that field is a start-up error, never
 * a server that silently keeps Node's defaults.
 */
export function raiseStreamResetGuard(server: grpc.Server): void {
  const options = (server as unknown as Http2OptionsHolder).commonServerOptions;
  if (typeof options !== 'object' || options === null) {
    throw new Error(
      'cannot raise the HTTP/2 stream reset limit: this @grpc/grpc-js has no Server.commonServerOptions (toolgate was '
      + 'built against 1.14). Without the raise, clients that abort requests can make toolgate drop Envoy\'s connection. '
      + 'Use @grpc/grpc-js 1.14, or adapt src/app/server/reset-guard.ts to the new version.',
    );
  }
  Object.assign(options, STREAM_RESET_GUARD);
}
