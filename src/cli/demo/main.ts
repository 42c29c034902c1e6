// `npm run demo`: the local mesh without Docker — an IdP, billing (two replicas) and inventory MCP servers, toolgate
// and the pinned Envoy as a gateway on 127.0.0.1 — then a scripted agent session: a filtered tools/list, allowed
// calls on both backends, tools outside the task, a transaction over its limit and a quota used up.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEMO_SCRIPT, runAgentScript } from './agent.js';
import { DEMO_AGENT as AGENT, DEMO_TASK, REFUND_CONDITION, REFUND_QUOTA, TASK_TOOLS } from './config.js';
import { startDemoStack, type DemoStack } from './stack.js';
import { relaunchWithRuntimeFlags } from '../runtime-flags.js';

const USAGE = `usage: node dist/cli/demo/main.js [--once] [--port N]
  --once    run the scripted agent session, stop everything, exit 0 when every decision was as expected
  --port N  Envoy's listener port (default: a free port)
Without --once the gateway stays up until Ctrl-C. ENVOY_BIN overrides the pinned Envoy binary.`;

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let values: { once?: boolean; port?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { once: { type: 'boolean' }, port: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be a port number, got "${values.port}"\n${USAGE}`);
    return 2;
  }
  const once = values.once ?? false;
  const print = (line: string) => console.log(line);

  print('toolgate demo: starting an identity provider, three MCP server replicas, toolgate and Envoy on 127.0.0.1 …');
  const demo = await startDemoStack({ repoRoot: REPO_ROOT, port, envoyBin: env.ENVOY_BIN, watch: !once, printProblem: (l) => console.error(l) });
  try {
    printStack(demo, print);
    const token = await demo.idp.mint(AGENT.claims, { subject: AGENT.subject, audience: demo.endpoint, expiresInSeconds: 3600 });
    const script = await runAgentScript(demo.endpoint, token, demo.feed, print);
    print('');
    for (const server of demo.servers) print(`${server.replica.padEnd(12)} ran: ${server.executed.join(', ') || 'nothing'}`);
    print('Denied calls never reached a server, and one session stayed on one billing replica (ring hash on x-toolgate-affinity).');
    if (!script.ok) {
      console.error(`Some decisions were not the expected ones (expected ${DEMO_SCRIPT.map((s) => s.expect).join(', ')}; got ${script.outcomes.join(', ')}).`);
      return 1;
    }
    if (once) return 0;
    printTryIt(demo, token, print);
    await untilSignal();
    print('\nstopping …');
    return 0;
  } finally {
    await demo.stop();
  }
}

function printStack(demo: DemoStack, print: (line: string) => void): void {
  print('');
  print(`  identity provider   ${demo.idp.issuer}  (RS256; JWKS at ${demo.idp.jwksUri})`);
  for (const server of demo.servers) print(`  ${`MCP ${server.replica}`.padEnd(19)} ${server.url}`);
  print(`  toolgate            gRPC 127.0.0.1:${demo.toolgate.grpcPort}, admin ${demo.toolgate.adminUrl}/readyz`);
  print(`  Envoy ${demo.envoyVersion.padEnd(13)} ${demo.endpoint}  ← the gateway; Envoy asks toolgate about every request`);
  print(`                      (bootstrap rendered from toolgate's config: ${demo.toolgate.envoyConfigPath})`);
  print('');
  print(`The agent's token: subject "${AGENT.subject}", task "${DEMO_TASK}", refund_limit ${AGENT.claims.refund_limit}.`);
  print(`Task "${DEMO_TASK}" may call ${TASK_TOOLS.join(', ')};`);
  print(`billing.refund only when \`${REFUND_CONDITION}\`, and ${REFUND_QUOTA.calls} times per ${REFUND_QUOTA.per}.`);
  print('');
}

function printTryIt(demo: DemoStack, token: string, print: (line: string) => void): void {
  const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'curl', version: '1' } } });
  const call = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'billing.refund', arguments: { charge_id: 'ch_123', amount: 500 } } });
  const headers = `-H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -H 'accept: application/json, text/event-stream'`;
  print('');
  print('The mesh stays up until Ctrl-C.');
  print(`  gateway URL  ${demo.endpoint}`);
  print(`  config       ${demo.toolgate.configPath}  (edit it: toolgate reloads it live)`);
  print(`  admin secret ${demo.toolgate.adminTokenPath}  (Bearer secret for POST ${demo.toolgate.adminUrl}/admin/sessions/revoke)`);
  print('  demo token   (valid for 1 hour; send it as "Authorization: Bearer <token>"):');
  print(`export TOKEN='${token}'`);
  print('');
  print('Point any MCP client (MCP Inspector, an SDK client) at the gateway URL with that token, or use curl:');
  print(`  SID=$(curl -s -D - -o /dev/null ${demo.endpoint} ${headers} \\`);
  print(`    -d '${init}' | tr -d '\\r' | sed -n 's/^mcp-session-id: //Ip')`);
  print('  # a refund over the limit: toolgate answers, no server sees it');
  print(`  curl -s ${demo.endpoint} ${headers} -H "mcp-session-id: $SID" \\`);
  print(`    -d '${call}'`);
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

// The demo runs toolgate in this process: on the heap settings `toolgate serve` runs with.
relaunchWithRuntimeFlags(fileURLToPath(import.meta.url));
main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`toolgate demo: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
