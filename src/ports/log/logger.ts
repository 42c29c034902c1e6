// The one place logs are configured; every secret-bearing field is redacted here.
import { pino, type Logger, type DestinationStream } from 'pino';

/** Paths never written to logs, whatever a caller passes. */
export const REDACTED_PATHS = [
  'authorization',
  'token',
  'sessionId',
  'headers.authorization',
  'headers["mcp-session-id"]',
  'headers.cookie',
  '*.authorization',
  '*.token',
  '*.sessionId',
];

export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'toolgate' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
