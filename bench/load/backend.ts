// The benchmark's MCP backends, in one child process: the test harness's MCP SDK server (2025 protocol, JSON
// responses), a 2026 stand-in (see backend-2026.ts), and two more harness servers for gateway mode (billing,
// inventory). Reports the ports to the parent over IPC.
import { startMcpServer } from '../../test/harness/mcp-server.js';
import { startBackend2026 } from './backend-2026.js';
import { installJsonResponseLeakFix } from './sdk-leak.js';

export interface BackendPorts {
  readonly type: 'backend-ready';
  /** The harness server: stateful sessions, application/json answers. */
  readonly port2025: number;
  /** The 2026-07-28 stand-in: no client sessions, Mcp-Method / Mcp-Name headers. */
  readonly port2026: number;
  /** Gateway mode's two backends (scenario f): harness servers like port2025's. */
  readonly billingPort: number;
  readonly inventoryPort: number;
}

// Without it the SDK leaks one entry per answered request in JSON mode (see sdk-leak.ts).
installJsonResponseLeakFix();
const harness = await startMcpServer({ enableJsonResponse: true, replicaId: 'bench' });
const billing = await startMcpServer({ enableJsonResponse: true, replicaId: 'billing' });
const inventory = await startMcpServer({ enableJsonResponse: true, replicaId: 'inventory' });
const servers = [harness, billing, inventory];
// The harness records every request it receives (for test assertions); a benchmark would grow that list without
// bound, so it is emptied now and then. This is the only way the benchmark reaches into the harness.
const trim = setInterval(() => { for (const s of servers) s.clearRequests(); }, 1_000);
const stand2026 = await startBackend2026();

const ready: BackendPorts = { type: 'backend-ready', port2025: harness.port, port2026: stand2026.port, billingPort: billing.port, inventoryPort: inventory.port };
process.send?.(ready);

async function shutdown(): Promise<void> {
  clearInterval(trim);
  await Promise.allSettled([...servers.map((s) => s.stop()), stand2026.stop()]);
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown());
process.once('disconnect', () => void shutdown());
