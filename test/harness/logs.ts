// In-memory logs of everything a test starts, printed only when a test fails.
import { beforeEach } from 'vitest';

export interface LogSource {
  readonly name: string;
  logs(): string;
}

const DEFAULT_MAX_CHARS = 8_000_000;

/** Keeps the last `maxChars` characters written to it. */
export class LogBuffer implements LogSource {
  private chunks: string[] = [];
  private size = 0;
  private dropped = 0;

  constructor(readonly name: string, private readonly maxChars = DEFAULT_MAX_CHARS) {}

  append(chunk: string | Buffer): void {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    this.chunks.push(text);
    this.size += text.length;
    while (this.size > this.maxChars && this.chunks.length > 1) {
      const first = this.chunks.shift() ?? '';
      this.size -= first.length;
      this.dropped += first.length;
    }
  }

  logs(): string {
    const text = this.chunks.join('');
    return this.dropped ? `[… ${this.dropped} earlier characters dropped]\n${text}` : text;
  }
}

/** Sources started in this test file; stopped ones stay until the next test begins. */
const registry = new Map<LogSource, { stopped: boolean }>();

export function registerLogSource(source: LogSource): { markStopped(): void } {
  const entry = { stopped: false };
  registry.set(source, entry);
  return { markStopped: () => { entry.stopped = true; } };
}

export function formatLogs(sources: Iterable<LogSource>): string {
  const parts: string[] = [];
  for (const source of sources) {
    const text = source.logs().trimEnd();
    parts.push(`──── ${source.name} ────\n${text || '(no output)'}`);
  }
  return parts.join('\n');
}

/**
 * Call once at the top of a test file (or describe block): when a test fails,
 * prints the logs of every Envoy and process that was running during it, plus
 * any extra sources given.
 */
export function printLogsOnFailure(extra: () => Iterable<LogSource> = () => []): void {
  beforeEach((ctx) => {
    for (const [source, entry] of registry) if (entry.stopped) registry.delete(source);
    ctx.onTestFailed(() => {
      const sources = [...registry.keys(), ...extra()];
      if (sources.length) process.stderr.write(`\n${formatLogs(sources)}\n`);
    });
  });
}
