// The one place logs are configured; every secret-bearing field is redacted here.
import { pino, type Logger, type DestinationStream } from 'pino';
import { turnDestination } from './turn-destination.js';

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

/**
 * Without a destination, records go to stdout in one write per event-loop turn (`turnDestination`), off the path of
 * the request that made them. Whatever is still queued when the process exits is written before it goes: `exit`
 * runs `flushSync`; a clean shutdown awaits `flushLogs` first.
 */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  let destination = options.destination;
  if (destination === undefined) {
    const stdout = turnDestination(1);
    process.once('exit', () => stdout.flushSync());
    destination = stdout;
  }
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'toolgate' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** Resolves once every record logged so far has been written (or its destination has given up on it). */
export function flushLogs(log: Logger): Promise<void> {
  return new Promise((resolve) => log.flush(() => resolve()));
}
