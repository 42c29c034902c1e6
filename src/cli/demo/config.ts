// The toolgate config the demo runs: a gateway in front of billing and inventory, one task whose refunds are capped
// by a claim in the agent's token and by a quota.
import { stringify } from 'yaml';
import type { RawConfig } from '../../core/config/schema.js';

export const DEMO_TASK = 'refund-support';
export const REFUND_CONDITION = 'mcp.arguments.amount <= jwt.refund_limit';
export const REFUND_QUOTA = { calls: 2, per: '1h' } as const;

/** The agent the demo's tokens are for (the in-process demo and the compose IdP's `GET /token`). */
export const DEMO_AGENT = {
  subject: 'support-agent-7',
  claims: { authorized_tasks: [DEMO_TASK], refund_limit: 100 },
} as const;

/** What the task may call: everything else the servers offer is hidden from tools/list and denied. */
export const TASK_TOOLS = ['billing.lookup_charge', 'billing.refund', 'inventory.check_stock'] as const;

export interface DemoConfigInput {
  /** The gateway's MCP URL (Envoy's listener + /mcp); also the token audience. */
  readonly resource: string;
  readonly issuer: string;
  readonly jwksUri: string;
  /** 32+ random bytes, base64url: seals session tokens for this run only. */
  readonly sessionSecret: string;
  /** Envoy's loopback egress listener, for toolgate's fan-out. */
  readonly egressUrl: string;
  /** `host:port` of each replica, per backend. */
  readonly endpoints: Readonly<Record<'billing' | 'inventory', readonly string[]>>;
}

/** The admin bearer secret's file, next to the demo config (the stack writes a random one there). */
export const DEMO_ADMIN_TOKEN_FILE = 'admin-token';

export function demoConfig(input: DemoConfigInput): RawConfig {
  return {
    resource: input.resource,
    // eventsPort 0: a free port, like the others; the demo's Envoy is given the one toolgate bound.
    server: { host: '127.0.0.1', grpcPort: 0, adminPort: 0, eventsPort: 0, shutdownGrace: '2s', adminTokenFile: DEMO_ADMIN_TOKEN_FILE },
    identity: {
      jwt: { issuer: input.issuer, jwksUri: input.jwksUri, algorithms: ['RS256'] },
      task: { claim: 'authorized_tasks' },
    },
    metadata: { resourceName: 'toolgate demo gateway' },
    session: { keys: [{ kid: 'demo', secret: input.sessionSecret }] },
    egress: { url: input.egressUrl, timeout: '5s' },
    backends: {
      billing: { cluster: 'billing', toolPrefix: 'billing', path: '/mcp', endpoints: [...input.endpoints.billing] },
      inventory: { cluster: 'inventory', toolPrefix: 'inventory', path: '/mcp', endpoints: [...input.endpoints.inventory] },
    },
    tasks: {
      [DEMO_TASK]: {
        description: "Answer a customer's refund request",
        tools: [
          { tool: 'billing.lookup_charge' },
          {
            tool: 'billing.refund',
            when: REFUND_CONDITION,
            message: 'Refunds above {{jwt.refund_limit}} need a human approver. Do not retry; hand the case over.',
            quota: { ...REFUND_QUOTA, key: 'jwt.sub' },
          },
          { tool: 'inventory.check_stock' },
        ],
      },
    },
  };
}

export function demoConfigText(input: DemoConfigInput): string {
  return `# Written by \`npm run demo\`; toolgate reloads it when it changes.\n${stringify(demoConfig(input))}`;
}
