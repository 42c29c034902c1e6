// `node dist/cli/demo/server.js --name billing --port 8080`: one demo MCP server as its own process (the compose mesh's
// backends). Stops on SIGTERM/SIGINT.
import { parseArgs } from 'node:util';
import { startMcpHost } from './mcp-host.js';
import { DEMO_SERVERS, demoTools, type DemoServerName } from './tools.js';

const USAGE = `usage: node dist/cli/demo/server.js --name ${DEMO_SERVERS.join('|')} [--port 8080] [--host 0.0.0.0] [--replica NAME]`;

async function main(argv: readonly string[]): Promise<number> {
  let values: { name?: string; port?: string; host?: string; replica?: string };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { name: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, replica: { type: 'string' } },
      strict: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const name = values.name as DemoServerName | undefined;
  const port = Number(values.port ?? '8080');
  if (!name || !DEMO_SERVERS.includes(name) || !Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(USAGE);
    return 2;
  }
  const host = await startMcpHost({ replica: values.replica ?? name, tools: demoTools(name), host: values.host ?? '0.0.0.0', port });
  console.log(JSON.stringify({ event: 'listening', server: name, replica: host.replica, port: host.port, path: '/mcp' }));
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await host.stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    console.error(`demo server: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
