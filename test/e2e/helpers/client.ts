// How the e2e suites talk to the gateway: a real MCP SDK client with a bearer token, or a raw POST.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export interface Connected {
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
  close(): Promise<void>;
}

/** An MCP SDK client over Streamable HTTP that sends `Authorization: Bearer <token>` on every request. */
export async function connectAs(endpoint: string, token: string): Promise<Connected> {
  const client = new Client({ name: 'toolgate-e2e', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(endpoint), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return { client, transport, close: () => client.close() };
}

export const POST_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
});

export interface RawAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
}

/** A POST that bypasses the SDK, for bodies and headers a well-behaved client would never send. */
export async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const res = await fetch(url, { method: 'POST', headers: { ...POST_HEADERS, ...headers }, body });
  return answer(res);
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return answer(await fetch(url, { headers }));
}

async function answer(res: Response): Promise<RawAnswer> {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export function toolCall(name: string, args: Record<string, unknown>, id: number | string = 1): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
