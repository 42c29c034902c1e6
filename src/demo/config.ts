// The toolgate config the demo runs: one task whose refunds are capped by a claim in the agent's token.
import { stringify } from 'yaml';
import type { RawConfig } from '../config/schema.js';

export const DEMO_TASK = 'refund-support';
export const REFUND_CONDITION = 'mcp.arguments.amount <= jwt.refund_limit';

export interface DemoConfigInput {
  /** The gateway's MCP URL (Envoy's listener + /mcp); also the token audience. */
  readonly resource: string;
  readonly issuer: string;
  readonly jwksUri: string;
  /** 32+ random bytes, base64url: seals session tokens for this run only. */
  readonly sessionSecret: string;
}

export function demoConfigText(input: DemoConfigInput): string {
  const config: RawConfig = {
    resource: input.resource,
    server: { host: '127.0.0.1', grpcPort: 0, adminPort: 0, shutdownGrace: '2s' },
    identity: {
      jwt: { issuer: input.issuer, jwksUri: input.jwksUri, algorithms: ['RS256'] },
      task: { claim: 'authorized_tasks' },
    },
    metadata: { resourceName: 'toolgate demo billing' },
    session: { keys: [{ kid: 'demo', secret: input.sessionSecret }] },
    tasks: {
      [DEMO_TASK]: {
        description: "Answer a customer's refund request",
        tools: [
          { tool: 'lookup_charge' },
          {
            tool: 'refund',
            when: REFUND_CONDITION,
            message: 'Refunds above {{jwt.refund_limit}} need a human approver. Do not retry; hand the case over.',
          },
        ],
      },
    },
  };
  return `# Written by \`npm run demo\`; toolgate reloads it when it changes.\n${stringify(config)}`;
}
