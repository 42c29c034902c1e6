// The log destinations the audit-record benchmarks compare, each with a way to wait until what was logged is written:
// pino's sonic-boom (sync, async, async batched to 4 KiB), a pino transport (worker thread) and toolgate's own
// per-turn destination. All write to /dev/null, as the load benchmark's toolgate does.
import { closeSync, openSync } from 'node:fs';
import { once } from 'node:events';
import { pino, type DestinationStream, type Logger } from 'pino';
import { createLogger } from '../../src/ports/log/logger.js';
import { turnDestination } from '../../src/ports/log/turn-destination.js';
import { auditor, type Audit, type AuditRecord } from '../../src/ports/log/audit.js';

export interface BenchDestination {
  /** toolgate's audit writer on a toolgate logger writing to the destination. */
  readonly audit: Audit;
  /** The audit call before this change (for the "before" row): the record spread into the redaction pass. */
  readonly auditBefore: Audit;
  /** Resolves once every record logged so far has been handed to the kernel. */
  written(): Promise<void>;
  close(): Promise<void>;
}

/** A typical allow record: the fields every decision carries. */
export const RECORD: AuditRecord = {
  decisionId: '01JR9Z8Q5W3M7K2X4V6B8N0P1C',
  subject: 'agent-7f3c2a',
  task: 'refund-support',
  method: 'tools/call',
  tool: 'lookup_charge',
  decision: 'allow',
  reason: 'allowed',
  policy: 'refund-support/lookup_charge',
};

function writers(destination: DestinationStream): Pick<BenchDestination, 'audit' | 'auditBefore'> {
  const log: Logger = createLogger({ destination });
  return {
    audit: auditor(log),
    auditBefore: (record) => log.info({ event: 'decision', ...record }, `${record.decision} ${record.method ?? '-'} ${record.tool ?? ''}`.trimEnd()),
  };
}

type SonicInternals = DestinationStream & NodeJS.EventEmitter & { _writing: boolean; _len: number; flush(cb: () => void): void };

async function sonicWritten(stream: SonicInternals): Promise<void> {
  while (stream._writing || stream._len > 0) await once(stream, 'drain');
}

function sonic(options: { sync: boolean; minLength?: number }): BenchDestination {
  const fd = openSync('/dev/null', 'w');
  const stream = pino.destination({ dest: fd, ...options }) as unknown as SonicInternals;
  return {
    ...writers(stream),
    // With minLength, only flush() writes a partial batch (it also fsyncs, which /dev/null ignores).
    written: () => (options.minLength ? new Promise<void>((resolve) => stream.flush(resolve)) : sonicWritten(stream)),
    async close() {
      await sonicWritten(stream);
      closeSync(fd);
    },
  };
}

export const DESTINATIONS: Record<string, () => BenchDestination | Promise<BenchDestination>> = {
  'no write (serialization only: the floor)': () => ({ ...writers({ write: () => undefined }), written: async () => undefined, close: async () => undefined }),
  'sonic-boom sync (fs.writeSync per record)': () => sonic({ sync: true }),
  'sonic-boom async (fs.write per record unless one is in flight; before)': () => sonic({ sync: false }),
  'sonic-boom async, minLength 4096': () => sonic({ sync: false, minLength: 4096 }),
  'pino transport (pino/file in a worker thread)': async () => {
    const stream = pino.transport({ target: 'pino/file', options: { destination: '/dev/null' } }) as DestinationStream & NodeJS.EventEmitter & { flush(cb: (err?: Error) => void): void; end(): void };
    await once(stream, 'ready');
    return {
      ...writers(stream),
      written: () => new Promise<void>((resolve, reject) => stream.flush((err) => (err ? reject(err) : resolve()))),
      async close() {
        // thread-stream ends its worker; waiting for 'close' can hang once the worker is gone, so no wait.
        stream.end();
      },
    };
  },
  'toolgate turn destination (one write per event-loop turn; after)': () => {
    const fd = openSync('/dev/null', 'w');
    const stream = turnDestination(fd);
    return {
      ...writers(stream),
      written: () => stream.flush(),
      async close() {
        await stream.flush();
        closeSync(fd);
      },
    };
  },
};

export const BEFORE = 'sonic-boom async (fs.write per record unless one is in flight; before)';
