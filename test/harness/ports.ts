// Free TCP ports on 127.0.0.1 for servers started by tests.
import { freePort as probe } from '../../src/demo/ports.js';

/** Ports handed out by this process, so two calls never return the same one. */
const handedOut = new Set<number>();

/**
 * A port that was free a moment ago. Another process can still take it before
 * the caller binds: callers that own the bind (startEnvoy) retry on EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await probe();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('freePort: no unused port after 20 attempts');
}

export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  return ports;
}
