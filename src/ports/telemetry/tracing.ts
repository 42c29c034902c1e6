// Starts the OpenTelemetry SDK for traces when the standard OTEL_* variables ask for it; off otherwise.
import type { Logger } from 'pino';

export type Env = Readonly<Record<string, string | undefined>>;

export interface Tracing {
  readonly enabled: boolean;
  /** Flushes buffered spans; bounded, so a dead collector cannot hold up shutdown. */
  shutdown(): Promise<void>;
}

const SHUTDOWN_LIMIT_MS = 5_000;
const DISABLED: Tracing = Object.freeze({ enabled: false, shutdown: async () => undefined });

/**
 * On when OTEL_TRACES_EXPORTER names an exporter, or when an OTLP endpoint is set and
 * OTEL_TRACES_EXPORTER is not `none`. The SDK's own default (OTLP to localhost:4318) is not
 * followed: a toolgate started without any OTEL_* setting must not log export failures forever.
 */
export function tracingRequested(env: Env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (exporters.includes('none')) return false;
  if (exporters.length > 0) return true;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim());
}

/**
 * Exporter, endpoint, protocol, headers, sampler, batching and resource all come from the SDK's
 * reading of the OTEL_* variables; toolgate adds only a default service name. Metrics and logs
 * stay with Prometheus and pino, so the SDK gets no metric reader and no log processor.
 */
export async function startTracing(env: Env, log: Logger): Promise<Tracing> {
  if (!tracingRequested(env)) return DISABLED;
  // Loaded only when asked for: the SDK brings every exporter with it.
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const named = Boolean(env.OTEL_SERVICE_NAME) || /(^|,)\s*service\.name\s*=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? '');
  const sdk = new NodeSDK({
    serviceName: named ? undefined : 'toolgate',
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  log.info(
    {
      event: 'tracing.started',
      exporter: env.OTEL_TRACES_EXPORTER ?? 'otlp',
      protocol: env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
      endpoint: origin(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT),
    },
    'OpenTelemetry tracing on',
  );
  return {
    enabled: true,
    async shutdown() {
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<void>((resolve) => { timer = setTimeout(resolve, SHUTDOWN_LIMIT_MS); });
      try {
        await Promise.race([sdk.shutdown().catch(() => undefined), limit]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Scheme, host and port only: an endpoint URL may carry credentials. */
function origin(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return '(unparsable)';
  }
}
