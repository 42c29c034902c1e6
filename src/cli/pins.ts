// `toolgate pins`: connects through Envoy like any MCP client and prints the current definitions' digests as config.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { loadConfigFile } from '../app/runtime/load.js';
import { pinReport, renderPinReport, type Listed } from '../core/pins/report.js';
import { PINS_USAGE } from './usage.js';

/**
 * The bearer token comes from a file (never an argument: process lists and shell history show those), holding a
 * token whose task lists every tool to pin. The URL defaults to the config's `resource`, the endpoint clients use.
 */
export async function runPins(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string', short: 'c' }, 'token-file': { type: 'string' }, url: { type: 'string' } },
    strict: true,
  });
  if (!values.config || !values['token-file']) {
    console.error(`toolgate pins: --config FILE and --token-file FILE are required\nusage:\n${PINS_USAGE}`);
    return 2;
  }
  let listed: Listed;
  let url: string;
  let config;
  try {
    config = loadConfigFile(values.config).config;
    url = values.url ?? config.resource;
    const token = readFileSync(values['token-file'], 'utf8').trim();
    if (token === '') throw new Error(`${values['token-file']} holds no token`);
    listed = await listEverything(new URL(url), token);
  } catch (err) {
    console.error(`toolgate pins: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  process.stdout.write(renderPinReport(config, pinReport(config, listed), url));
  return 0;
}

/** Every page of tools, prompts and resource templates the server offers (by its capabilities). */
async function listEverything(url: URL, token: string): Promise<Listed> {
  const client = new Client({ name: 'toolgate-pins', version: '0.1.0' });
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  try {
    const caps = client.getServerCapabilities() ?? {};
    const pages = async <T>(get: (cursor: string | undefined) => Promise<{ items: T[]; next: string | undefined }>): Promise<T[]> => {
      const all: T[] = [];
      let cursor: string | undefined;
      do {
        const page = await get(cursor);
        all.push(...page.items);
        cursor = page.next;
      } while (cursor !== undefined);
      return all;
    };
    const params = (cursor: string | undefined) => (cursor === undefined ? {} : { cursor });
    const tools = caps.tools ? await pages(async (c) => { const r = await client.listTools(params(c)); return { items: r.tools, next: r.nextCursor }; }) : [];
    const prompts = caps.prompts ? await pages(async (c) => { const r = await client.listPrompts(params(c)); return { items: r.prompts, next: r.nextCursor }; }) : [];
    const resourceTemplates = caps.resources
      ? await pages(async (c) => { const r = await client.listResourceTemplates(params(c)); return { items: r.resourceTemplates, next: r.nextCursor }; })
      : [];
    return { tools, prompts, resourceTemplates } as Listed;
  } finally {
    await client.close().catch(() => undefined);
  }
}
