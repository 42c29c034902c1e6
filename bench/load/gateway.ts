// Scenario (f): toolgate in gateway mode in front of two MCP SDK backends (billing, inventory), configured as
// examples/gateway.yaml is (prefixes always, Envoy's egress listener for fan-out), its Envoy bootstrap rendered
// from that config by the built CLI like every other scenario's.
import { freePort } from '../../test/harness/ports.js';
import type { RawConfig } from '../../src/core/config/schema.js';
import { baseConfig, TASK, writeConfigFile, type BenchIdentity, type ToolgateSetup } from './toolgate.js';

export interface GatewaySetup extends ToolgateSetup {
  /** Envoy's loopback egress listener (EGRESS_PORT), which toolgate's fan-out goes through. */
  readonly egressPort: number;
}

/** The gateway toolgate's config: both backends behind prefixes, the same task shape as the sidecar's. */
export async function writeGatewayConfig(workDir: string, identity: BenchIdentity): Promise<GatewaySetup> {
  const grpcPort = await freePort();
  const adminPort = await freePort();
  const egressPort = await freePort();
  const config: RawConfig = {
    ...baseConfig(identity, grpcPort, adminPort, 'admin-token-gateway'),
    egress: { url: `http://127.0.0.1:${egressPort}`, timeout: '5s' },
    backends: {
      billing: { cluster: 'billing', toolPrefix: 'billing', prefixMode: 'always', path: '/mcp', endpoints: ['${BILLING_ADDRESS}:${BILLING_PORT}'] },
      inventory: { cluster: 'inventory', toolPrefix: 'inventory', prefixMode: 'always', path: '/mcp', endpoints: ['${INVENTORY_ADDRESS}:${INVENTORY_PORT}'] },
    },
    tasks: {
      [TASK]: {
        description: 'Benchmark task (gateway)',
        tools: [
          { tool: 'billing.echo' },
          { tool: 'billing.lookup_charge' },
          { tool: 'billing.refund', when: 'mcp.arguments.amount <= jwt.refund_limit', message: 'Refunds above {{jwt.refund_limit}} need a human. Do not retry.' },
          { tool: 'inventory.echo' },
        ],
      },
    },
  };
  const configPath = writeConfigFile(workDir, 'toolgate-gateway', config, 'admin-token-gateway');
  return { configPath, grpcPort, adminPort, egressPort, token: identity.token };
}
