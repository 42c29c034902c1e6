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

/**
 * `metrics` is the app's: the observers count into it and `/metrics` serves its registry. Spans only when `tracing`
 * (the OpenTelemetry SDK was started): their module, with the OpenTelemetry API and core it needs (~80 modules,
 * several MiB of heap), is imported then and only then, and a Check or a stream without tracing builds no span.
 */
export async function telemetryHooks(holder: RuntimeHolder, log: Logger, metrics: Metrics, tracing: boolean): Promise<TelemetryHooks> {
  const spans = tracing ? await import('./spans.js') : undefined;
  return {
    check: checkTelemetry(holder, log, metrics, spans?.checkSpans()),
    stream: streamTelemetry(log, metrics, spans?.streamSpans()),
    adminRoutes: [metricsRoute(metrics.registry)],
  };
}
