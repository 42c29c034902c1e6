// The log destination: records made during one turn of the event loop leave in one write, after the turn's answers.
import { writeSync } from 'node:fs';

export interface TurnDestination {
  /** pino's entry point: queues one serialized record (a line). */
  write(line: string): void;
  /** Resolves (and calls `cb`) once every record queued so far is written, or could not be (see `onError`). */
  flush(cb?: (err?: Error) => void): Promise<void>;
  /** Writes everything queued now, blocking: for the process's `exit`, when no later turn will come. */
  flushSync(): void;
}

export interface TurnDestinationOptions {
  /** A write that failed for good (not EAGAIN); default: one line on stderr. The records it held are dropped. */
  readonly onError?: (err: NodeJS.ErrnoException) => void;
  /** How long to wait before retrying when the reader is behind (EAGAIN on a non-blocking pipe); default 10 ms. */
  readonly retryMs?: number;
}

/** How long flushSync keeps retrying a full pipe at exit before it gives up on the rest. */
const EXIT_RETRY_LIMIT_MS = 2_000;

/**
 * Why not one write per record (pino's sonic-boom, before): every record paid a system call and a string encoding on
 * the request path's thread. Here a record is a string pushed on an array; `setImmediate` writes the turn's records
 * together after the poll phase, so the answers of that turn have been handed to gRPC first. The write is a plain
 * `writeSync`: no thread-pool round trip, nothing in flight that exit could cut, and a reader that cannot keep up
 * (EAGAIN) is retried on a timer that keeps the process alive until every record is out.
 */
export function turnDestination(fd: number, options: TurnDestinationOptions = {}): TurnDestination {
  const onError = options.onError ?? reportToStderr;
  const retryMs = options.retryMs ?? 10;
  let queue: string[] = [];
  /** Bytes of a batch the kernel took only part of (a full non-blocking pipe). */
  let rest: Buffer | undefined;
  let scheduled = false;
  let retrying: NodeJS.Timeout | undefined;
  /** The reader went away (EPIPE): nothing more can be written, as with pino's own destination. */
  let broken = false;
  let waiters: Array<(err?: Error) => void> = [];
  let lastError: Error | undefined;

  const settle = () => {
    const done = waiters;
    const err = lastError;
    waiters = [];
    lastError = undefined;
    for (const waiter of done) waiter(err);
  };

  /** Writes what is queued; false when the reader is behind and the rest must wait. */
  const writeOut = (): boolean => {
    while (!broken) {
      if (rest === undefined) {
        if (queue.length === 0) return true;
        rest = Buffer.from(queue.length === 1 ? (queue[0] as string) : queue.join(''));
        queue = [];
      }
      try {
        const n = writeSync(fd, rest);
        rest = n < rest.length ? rest.subarray(n) : undefined;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'EAGAIN') return false;
        rest = undefined;
        if (e.code === 'EPIPE') {
          broken = true;
          queue = [];
        } else {
          lastError = e;
          onError(e);
        }
      }
    }
    return true;
  };

  const turn = () => {
    scheduled = false;
    retrying = undefined;
    if (writeOut()) settle();
    // Not unref'd: a process on its way out waits for its records.
    else retrying = setTimeout(turn, retryMs);
  };

  const schedule = () => {
    if (scheduled || retrying !== undefined) return;
    scheduled = true;
    setImmediate(turn);
  };

  return {
    write(line) {
      if (broken) return;
      queue.push(line);
      schedule();
    },
    flush(cb) {
      return new Promise<void>((resolve) => {
        const done = (err?: Error) => {
          cb?.(err);
          resolve();
        };
        if (queue.length === 0 && rest === undefined) {
          done();
          return;
        }
        waiters.push(done);
        schedule();
      });
    },
    flushSync() {
      clearTimeout(retrying);
      retrying = undefined;
      const deadline = Date.now() + EXIT_RETRY_LIMIT_MS;
      let done = writeOut();
      while (!done && Date.now() < deadline) {
        pause(retryMs);
        done = writeOut();
      }
      if (!done) {
        lastError = Object.assign(new Error(`the log reader took nothing for ${EXIT_RETRY_LIMIT_MS} ms at exit`), { code: 'EAGAIN' });
        onError(lastError);
      }
      settle();
    },
  };
}

/** Blocks the thread for `ms` (exit only: there is no event loop left to wait on). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function reportToStderr(err: NodeJS.ErrnoException): void {
  try {
    writeSync(2, `toolgate: writing log records failed (${err.code ?? err.message}); the records of that write are lost\n`);
  } catch {
    // stderr is gone too: nothing left to tell.
  }
}
