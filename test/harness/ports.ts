// Free TCP ports on 127.0.0.1 for servers started by tests.
import { createServer } from 'node:net';

/** Ports handed out by this process, so two calls never return the same one. */
const handedOut = new Set<number>();

/**
 * Test servers get ports below Linux's ephemeral range (32768+): a port the OS picked from that range can be taken
 * by any outbound connection (Envoy, clients, Redis) between the probe and the bind, which made toolgate fail with
 * EADDRINUSE on a port Envoy had already been told. Each vitest worker draws from its own slice of 1000 ports.
 */
const SLICE = 1000;
const FIRST = 20_000;
const SLICES = 12;

function sliceBase(): number {
  const worker = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? '0') || 0;
  return FIRST + (worker % SLICES) * SLICE;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', () => resolve(false));
    probe.listen({ host: '127.0.0.1', port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/**
 * A port that was free a moment ago. Another process can still take it before
 * the caller binds: callers that own the bind (startEnvoy) retry on EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  const base = sliceBase();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = base + Math.floor(Math.random() * SLICE);
    if (handedOut.has(port)) continue;
    if (await bindable(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`freePort: no free port in ${base}-${base + SLICE - 1} after 200 attempts`);
}

export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  return ports;
}
