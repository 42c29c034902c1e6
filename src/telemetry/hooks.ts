// What serve() plugs into the adapters and the admin port: span and metric observers, and the /metrics route.
import type { Logger } from 'pino';
import type { RuntimeHolder } from '../config/watch.js';
import type { CheckObserver } from '../envoy/authz/check.js';
import type { StreamObserver } from '../envoy/extproc/stream.js';
import { checkTelemetry } from './check-observer.js';
import { metricsRoute } from './metrics.js';
import { streamTelemetry } from './stream-observer.js';

export interface TelemetryHooks {
  readonly check: CheckObserver;
  readonly stream: StreamObserver;
  readonly adminRoutes: ReturnType<typeof metricsRoute>[];
}

export function telemetryHooks(holder: RuntimeHolder, log: Logger): TelemetryHooks {
  return { check: checkTelemetry(holder, log), stream: streamTelemetry(log), adminRoutes: [metricsRoute()] };
}
