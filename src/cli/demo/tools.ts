// The demo's two MCP servers, as tool sets: billing (charges and refunds) and inventory (stock levels).
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

export const DEMO_SERVERS = ['billing', 'inventory'] as const;
export type DemoServerName = (typeof DEMO_SERVERS)[number];

/** The tools each server registers (below), as the demo's narration names them. */
export const OFFERED_TOOLS: Readonly<Record<DemoServerName, readonly string[]>> = {
  billing: ['lookup_charge', 'refund', 'close_account'],
  inventory: ['check_stock', 'set_stock'],
};

interface Charge {
  readonly amount: number;
  readonly currency: string;
  refunded: number;
}

const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });
const failure = (value: string) => ({ ...text(value), isError: true });

/** One factory per server; each call makes a server for one session. State lives as long as the factory (one replica). */
export function demoTools(name: DemoServerName): (executed: string[]) => McpServer {
  return name === 'billing' ? billingTools() : inventoryTools();
}

function billingTools(): (executed: string[]) => McpServer {
  const charges = new Map<string, Charge>([
    ['ch_123', { amount: 420, currency: 'usd', refunded: 0 }],
    ['ch_456', { amount: 1250, currency: 'usd', refunded: 0 }],
  ]);
  return (executed) => {
    const server = new McpServer({ name: 'demo-billing', version: '1.0.0' });
    server.registerTool('lookup_charge', {
      description: 'Looks up a charge by id.',
      inputSchema: { charge_id: z.string() },
    }, ({ charge_id }) => {
      executed.push('lookup_charge');
      const charge = charges.get(charge_id);
      if (!charge) return failure(`No charge ${charge_id}.`);
      return text(`Charge ${charge_id}: ${charge.amount} ${charge.currency}, ${charge.refunded} refunded so far.`);
    });
    server.registerTool('refund', {
      description: 'Refunds part or all of a charge.',
      inputSchema: { charge_id: z.string(), amount: z.number().positive() },
    }, ({ charge_id, amount }) => {
      executed.push('refund');
      const charge = charges.get(charge_id);
      if (!charge) return failure(`No charge ${charge_id}.`);
      if (charge.refunded + amount > charge.amount) return failure(`Cannot refund ${amount}: only ${charge.amount - charge.refunded} is left on ${charge_id}.`);
      charge.refunded += amount;
      return text(`Refunded ${amount} ${charge.currency} on ${charge_id}.`);
    });
    server.registerTool('close_account', {
      description: 'Closes the customer account a charge belongs to.',
      inputSchema: { charge_id: z.string() },
    }, ({ charge_id }) => {
      executed.push('close_account');
      return text(`Closed the account behind ${charge_id}.`);
    });
    return server;
  };
}

function inventoryTools(): (executed: string[]) => McpServer {
  const stock = new Map<string, number>([['sku-kettle', 12], ['sku-toaster', 0]]);
  return (executed) => {
    const server = new McpServer({ name: 'demo-inventory', version: '1.0.0' });
    server.registerTool('check_stock', {
      description: 'How many units of a product are in stock.',
      inputSchema: { sku: z.string() },
    }, ({ sku }) => {
      executed.push('check_stock');
      const units = stock.get(sku);
      return units === undefined ? failure(`No product ${sku}.`) : text(`${sku}: ${units} in stock.`);
    });
    server.registerTool('set_stock', {
      description: 'Sets the stock level of a product.',
      inputSchema: { sku: z.string(), units: z.number().int().min(0) },
    }, ({ sku, units }) => {
      executed.push('set_stock');
      stock.set(sku, units);
      return text(`${sku}: stock set to ${units}.`);
    });
    return server;
  };
}
