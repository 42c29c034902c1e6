// What serve() plugs into the adapters and the admin port: span and metric observers, and the /metrics route.
import type { Logger } from 'pino';
import type { RuntimeHolder } from '../runtime/watch.js';
import type { CheckObserver } from '../../envoy/check.js';
import type { StreamObserver } from '../../envoy/process/stream.js';
import { checkTelemetry } from './check-observer.js';
import { metricsRoute, type Metrics } from '../../ports/telemetry/metrics.js';
import { streamTelemetry } from './stream-observer.js';

export interface TelemetryHooks {
  readonly check: CheckObserver;
  readonly stream: StreamObserver;
  readonly adminRoutes: ReturnType<typeof metricsRoute>[];
}

/** `metrics` is the app's: the observers count into it and `/metrics` serves its registry. */
export function telemetryHooks(holder: RuntimeHolder, log: Logger, metrics: Metrics): TelemetryHooks {
  return { check: checkTelemetry(holder, log, metrics), stream: streamTelemetry(log, metrics), adminRoutes: [metricsRoute(metrics.registry)] };
}
