// Waits for typed messages from a child process; a child that fails or exits rejects the wait at once.
import type { Child } from './procs.js';

export interface IpcChannel<M extends { type: string }> {
  next<T extends M['type']>(type: T, timeoutMs: number): Promise<Extract<M, { type: T }>>;
}

export function ipcChannel<M extends { type: string }>(child: Child): IpcChannel<M> {
  const queue: M[] = [];
  let waiter: ((msg: M | Error) => void) | undefined;
  const deliver = (item: M | Error) => {
    if (waiter) {
      const w = waiter;
      waiter = undefined;
      w(item);
    } else if (!(item instanceof Error)) {
      queue.push(item);
    }
  };
  child.process.on('message', (msg: M) => deliver(msg));
  child.process.once('exit', (code, signal) => deliver(new Error(`${child.name} exited (${signal ?? code}):\n${child.tail()}`)));

  return {
    next<T extends M['type']>(type: T, timeoutMs: number): Promise<Extract<M, { type: T }>> {
      const queued = queue.shift();
      const got = queued !== undefined ? Promise.resolve<M | Error>(queued) : new Promise<M | Error>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiter = undefined;
          reject(new Error(`${child.name}: no "${type}" message within ${timeoutMs} ms:\n${child.tail()}`));
        }, timeoutMs);
        waiter = (item) => {
          clearTimeout(timer);
          resolve(item);
        };
      });
      return got.then((item) => {
        if (item instanceof Error) throw item;
        if (item.type !== type) {
          const detail = 'error' in item ? String((item as { error: unknown }).error) : JSON.stringify(item).slice(0, 500);
          throw new Error(`${child.name}: expected "${type}", got "${item.type}": ${detail}`);
        }
        return item as Extract<M, { type: T }>;
      });
    },
  };
}
