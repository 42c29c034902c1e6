// `toolgate serve`: load config, start gRPC + admin, hot-reload config, shut down gracefully.
import type { Logger } from 'pino';
import { durationMs } from '../../core/config/duration.js';
import { loadConfigFile, type Runtime } from '../runtime/load.js';
import { holdRuntime } from '../runtime/watch.js';
import { checkHandler } from '../../envoy/check.js';
import { processHandler } from '../../envoy/process/stream.js';
import { finishedExchange, sidecarExchange } from '../../pipeline/extproc/sidecar.js';
import { gatewayExchange } from '../../pipeline/extproc/gateway.js';
import { refundingExchange } from '../../pipeline/extproc/refund.js';
import type { AuthzContext, ExchangeProcessor } from '../../pipeline/extproc/exchange.js';
import { telemetryHooks } from '../observe/hooks.js';
import { createMetrics } from '../../ports/telemetry/metrics.js';
import type { Deps } from '../../ports/deps.js';
import { startAdmin } from './admin.js';
import { loadAdminAuth } from './admin-auth.js';
import { grpcServerOptions, startGrpc } from './grpc.js';
import { revokeRoute, startStore, storeDependency } from './admin-revoke.js';
import { grpcCredentials, tlsFiles } from './tls.js';
import { startEvents } from './events.js';

export interface ServeOptions {
  readonly configFile: string;
  readonly host?: string | undefined;
  readonly grpcPort?: number | undefined;
  readonly adminPort?: number | undefined;
  /** Gateway mode: overrides `server.eventsPort` (0 picks a free port). */
  readonly eventsPort?: number | undefined;
  readonly watch?: boolean;
  /** The OpenTelemetry SDK was started (`startTracing`): Checks and streams get spans. Default off: none built. */
  readonly tracing?: boolean;
}

export interface Served {
  readonly grpcPort: number;
  readonly adminPort: number;
  /** The event-stream server's port, when gateway mode serves GET streams. */
  readonly eventsPort: number | undefined;
  stop(): Promise<void>;
}

export async function serve(options: ServeOptions, log: Logger): Promise<Served> {
  const initial = loadConfigFile(options.configFile);
  // Read before anything is started, so a missing certificate stops start-up with nothing to clean up.
  const credentials = grpcCredentials(initial.config.server.tls, options.configFile);
  const adminAuth = loadAdminAuth(initial.config.server, options.configFile);
  if (initial.sessions.ephemeral) {
    log.warn({ event: 'session.ephemeral-key' }, 'no session.keys configured: session tokens use a random per-process key (one replica only; sessions end on restart)');
  }
  // Per app, kept across reloads: the metrics registry /metrics serves, and (below) the store.
  const metrics = createMetrics({ process: true });
  const holder = holdRuntime(initial, log, metrics, { watch: options.watch ?? true });
  const server = initial.config.server;
  const host = options.host ?? server.host;
  let stopping = false;
  // Before the store: a Redis connection must not be left open by anything that can still fail here.
  const telemetry = await telemetryHooks(holder, log, metrics, options.tracing ?? false);
  const store = await startStore(initial, holder, log);
  const deps: Deps = { store, metrics };

  const grpc = await startGrpc(
    host,
    options.grpcPort ?? server.grpcPort,
    {
      authz: { Check: checkHandler(holder, log, deps, telemetry.check) },
      extProc: {
        Process: processHandler(
          { exchange: (authz) => exchangeFor(holder.current(), authz), finished: () => finishedExchange(holder.current()) },
          () => holder.current().sessions.keyring,
          () => durationMs(holder.current().config.server.extProcCloseWait),
          log, metrics, telemetry.stream,
        ),
      },
    },
    grpcServerOptions(initial.config.policy.maxBodyBytes),
    credentials,
  ).catch(async (err: unknown) => {
    // An open Redis connection would keep a process that failed to start alive.
    holder.close();
    await store.close();
    throw err;
  });
  function exchangeFor(runtime: Runtime, authz: AuthzContext): ExchangeProcessor {
    const exchange = Object.keys(runtime.config.backends).length > 1 ? gatewayExchange(runtime, log, authz, deps) : sidecarExchange({ runtime, log, ...deps }, authz);
    return refundingExchange(exchange, authz, store, log);
  }
  const admin = await startAdmin(host, options.adminPort ?? server.adminPort, holder, { ready: () => !stopping, dependencies: storeDependency(store) }, adminAuth, log, [...telemetry.adminRoutes, revokeRoute(holder, store, log)])
    .catch(async (err: unknown) => {
      holder.close();
      await grpc.shutdown(0);
      await store.close();
      throw err;
    });
  const eventsPort = options.eventsPort ?? server.eventsPort;
  // Gateway mode only: in sidecar mode GET streams go to the one backend unchanged.
  const events = eventsPort === undefined || Object.keys(initial.config.backends).length <= 1
    ? undefined
    : await startEvents(host, eventsPort, holder, log, { tls: initial.config.server.tls && tlsFiles(initial.config.server.tls, options.configFile) })
      .catch(async (err: unknown) => {
        holder.close();
        await admin.close();
        await grpc.shutdown(0);
        await store.close();
        throw err;
      });
  log.info({ event: 'listening', grpcPort: grpc.port, adminPort: admin.port, eventsPort: events?.port, configVersion: initial.version }, 'toolgate ready');

  let stopped: Promise<void> | undefined;
  return {
    grpcPort: grpc.port,
    adminPort: admin.port,
    eventsPort: events?.port,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        grpc.setServing(false);
        holder.close();
        const grace = durationMs(holder.current().config.server.shutdownGrace);
        log.info({ event: 'shutdown', graceMs: grace }, 'draining in-flight streams');
        // Open event streams end now: their clients reconnect (with Last-Event-ID) to a replica that stays.
        await events?.close();
        await grpc.shutdown(grace);
        await admin.close();
        await store.close();
        log.info({ event: 'stopped' }, 'toolgate stopped');
      })();
      return stopped;
    },
  };
}
