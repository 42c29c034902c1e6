// Telemetry for each ext_proc stream: stream gauges, phase durations, and (tracing on) one SERVER span over the exchange.
import type { Logger } from 'pino';
import type { Phase, StreamObserver, StreamWatch } from '../../envoy/process/stream.js';
import type { AuthzContext, Step } from '../../pipeline/extproc/exchange.js';
import type { Metrics } from '../../ports/telemetry/metrics.js';

/** One ext_proc stream's span (tracing on only): phases run inside it, each phase an event, ended with the stream. */
export interface StreamSpan {
  run(phase: () => Promise<[Phase | undefined, Step]>): Promise<[Phase | undefined, Step]>;
  phase(phase: Phase, step: Step, seconds: number): void;
  end(error: unknown): void;
}
export type StreamSpans = (authz: AuthzContext, headers: Readonly<Record<string, string>>) => StreamSpan;

export function streamTelemetry(log: Logger, { activeStreams, phaseDuration }: Metrics, spans?: StreamSpans): StreamObserver {
  return (authz, headers) => {
    activeStreams.inc();
    const span = spans?.(authz, headers);
    let ended = false;

    const watch: StreamWatch = {
      async phase(run) {
        const started = performance.now();
        const result = await (span ? span.run(run) : run());
        const seconds = (performance.now() - started) / 1000;
        const [phase, step] = result;
        // A telemetry bug must not fail the exchange (the stream loop answers 500 to anything thrown here).
        try {
          if (phase !== undefined) {
            phaseDuration.observe({ phase }, seconds);
            span?.phase(phase, step, seconds);
          }
        } catch (err) {
          log.warn({ event: 'telemetry.failed', err }, 'recording an ext_proc phase failed');
        }
        return result;
      },
      end(error) {
        if (ended) return;
        ended = true;
        activeStreams.dec();
        span?.end(error);
      },
    };
    return watch;
  };
}
