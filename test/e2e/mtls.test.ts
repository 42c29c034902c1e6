// mTLS end to end: envoy/gateway-mtls.yaml (rendered with --mtls) in front of a toolgate that serves gRPC over TLS
// with client-certificate verification, and backends that demand Envoy's certificate too. Certificates are made
// per run with the openssl CLI. One MCP session passes; plain-text and certificate-less gRPC clients are refused.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect, type AddressInfo, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { main } from '../../src/cli/main.js';
import type { RawConfig } from '../../src/core/config/schema.js';
import { renderEnvoyFile } from '../../src/cli/render/envoy.js';
import { renderTemplate, startEnvoy, templatePlaceholders, validateEnvoyConfig, type EnvoyInstance } from '../harness/envoy.js';
import { REPO_ROOT } from '../harness/repo.js';
import { startTestIdp, type TestIdp } from '../harness/jwt.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { startMcpServer, type McpTestServer } from '../harness/mcp-server.js';
import { freePort } from '../harness/ports.js';
import { startProcess, type ManagedProcess } from '../harness/process.js';
import { connectAs } from './helpers/client.js';
import { eventually } from '../harness/eventually.js';
import { ADMIN_TOKEN_FILE, requireBuiltDist, TOOLGATE_BIN, writeAdminToken } from '../harness/toolgate.js';

printLogsOnFailure();

const TEMPLATE = join(REPO_ROOT, 'envoy', 'gateway-mtls.yaml');
const SANS = { TOOLGATE_TLS_SAN: 'toolgate.mtls.test', BILLING_TLS_SAN: 'billing.mtls.test', INVENTORY_TLS_SAN: 'inventory.mtls.test' };

interface Pki {
  readonly dir: string;
  readonly ca: string;
  /** toolgate's server certificate and key. */
  readonly toolgate: { cert: string; key: string };
  /** The backends' server certificate (both backend names) and key. */
  readonly backend: { cert: string; key: string };
  /** Envoy's client certificate and key. */
  readonly envoy: { cert: string; key: string };
  /** A client certificate from another CA: a stranger. */
  readonly stranger: { cert: string; key: string };
}

/** A throwaway CA and the leaf certificates, made with the openssl CLI. */
async function makePki(dir: string): Promise<Pki> {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = (name: string) => {
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  };
  const leaf = async (name: string, signer: string, usage: 'serverAuth' | 'clientAuth', sans: readonly string[]) => {
    const ext = join(dir, `${name}.ext`);
    await writeFile(ext, [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage=${usage}`,
      ...(sans.length ? [`subjectAltName=${sans.map((s) => `DNS:${s}`).join(',')}`] : []),
    ].join('\n'));
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.crt`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', ext);
    return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  };
  ca('ca');
  ca('other-ca');
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    toolgate: await leaf('toolgate', 'ca', 'serverAuth', [SANS.TOOLGATE_TLS_SAN]),
    backend: await leaf('backend', 'ca', 'serverAuth', [SANS.BILLING_TLS_SAN, SANS.INVENTORY_TLS_SAN]),
    envoy: await leaf('envoy', 'ca', 'clientAuth', []),
    stranger: await leaf('stranger', 'other-ca', 'clientAuth', []),
  };
}

/** TLS in front of a plain MCP server: refuses clients without a certificate the CA signed. */
async function tlsFront(pki: Pki, target: number): Promise<{ port: number; handshakes: () => number; stop(): Promise<void> }> {
  const [cert, key, ca] = await Promise.all([readFile(pki.backend.cert), readFile(pki.backend.key), readFile(pki.ca)]);
  let handshakes = 0;
  const server = createTlsServer({ cert, key, ca, requestCert: true, rejectUnauthorized: true }, (socket) => {
    handshakes++;
    const upstream = connect(target, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    const close = () => { socket.destroy(); upstream.destroy(); };
    socket.on('error', close);
    upstream.on('error', close);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    handshakes: () => handshakes,
    stop: () => stopServer(server),
  };
}

function stopServer(server: TcpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function toolgateConfig(opts: { envoyUrl: string; idp: TestIdp; pki: Pki; egressPort: number; grpcPort: number; adminPort: number; eventsPort: number }): string {
  const example = parse(REPO_EXAMPLE) as RawConfig;
  const config: RawConfig = {
    ...example,
    resource: `${opts.envoyUrl}/mcp`,
    server: {
      host: '127.0.0.1', grpcPort: opts.grpcPort, adminPort: opts.adminPort, eventsPort: opts.eventsPort, shutdownGrace: '2s', adminTokenFile: ADMIN_TOKEN_FILE,
      tls: { certFile: opts.pki.toolgate.cert, keyFile: opts.pki.toolgate.key, caFile: opts.pki.ca },
    },
    identity: { ...example.identity, jwt: { issuer: opts.idp.issuer, jwksUri: opts.idp.jwksUrl as string, algorithms: ['RS256'] } },
    metadata: { authorizationServers: [opts.idp.issuer] },
    session: { keys: [{ kid: 'k1', secret: 'mtls-e2e-session-key-0123456789abcdef' }] },
    egress: { url: `http://127.0.0.1:${opts.egressPort}`, timeout: '5s' },
    tasks: { support: { tools: [{ tool: 'billing.echo' }, { tool: 'inventory.echo' }] } },
  };
  return stringify(config);
}

let REPO_EXAMPLE = '';

describe('mTLS: Envoy → toolgate (gRPC) and Envoy → backends', () => {
  let dir: string;
  let pki: Pki;
  let idp: TestIdp;
  let envoy: EnvoyInstance;
  let toolgate: ManagedProcess;
  let grpcPort: number;
  let eventsPort: number;
  const backends: McpTestServer[] = [];
  const fronts: Array<Awaited<ReturnType<typeof tlsFront>>> = [];

  beforeAll(async () => {
    requireBuiltDist();
    REPO_EXAMPLE = await readFile(join(REPO_ROOT, 'examples', 'gateway.yaml'), 'utf8');
    dir = await mkdtemp(join(tmpdir(), 'toolgate-mtls-'));
    pki = await makePki(dir);
    for (const replicaId of ['billing', 'inventory']) backends.push(await startMcpServer({ replicaId }));
    // Two endpoints per backend in the example: each gets its own TLS front to the same server.
    for (const backend of [backends[0], backends[0], backends[1], backends[1]]) fronts.push(await tlsFront(pki, (backend as McpTestServer).port));
    grpcPort = await freePort();
    const [adminPort, egressPort] = [await freePort(), await freePort()];
    eventsPort = await freePort();
    envoy = await startEnvoy({
      template: TEMPLATE,
      name: 'envoy (gateway-mtls.yaml)',
      vars: {
        TOOLGATE_GRPC_PORT: grpcPort,
        TOOLGATE_EVENTS_PORT: eventsPort,
        EGRESS_PORT: egressPort,
        ENVOY_TLS_CERT_FILE: pki.envoy.cert,
        ENVOY_TLS_KEY_FILE: pki.envoy.key,
        TLS_CA_FILE: pki.ca,
        ...SANS,
        BILLING_1_ADDRESS: '127.0.0.1', BILLING_1_PORT: fronts[0]?.port as number,
        BILLING_2_ADDRESS: '127.0.0.1', BILLING_2_PORT: fronts[1]?.port as number,
        INVENTORY_1_ADDRESS: '127.0.0.1', INVENTORY_1_PORT: fronts[2]?.port as number,
        INVENTORY_2_ADDRESS: '127.0.0.1', INVENTORY_2_PORT: fronts[3]?.port as number,
      },
    });
    idp = await startTestIdp({ audience: `${envoy.url}/mcp` });
    const configPath = join(dir, 'toolgate.yaml');
    await writeAdminToken(dir);
    await writeFile(configPath, toolgateConfig({ envoyUrl: envoy.url, idp, pki, egressPort, grpcPort, adminPort, eventsPort }));
    toolgate = await startProcess({
      name: `toolgate (tls) :${grpcPort}`,
      command: process.execPath,
      args: [TOOLGATE_BIN, 'serve', '--config', configPath],
      env: { TOOLGATE_LOG_LEVEL: 'info' },
      readyUrl: `http://127.0.0.1:${adminPort}/readyz`,
      readyTimeoutMs: 20_000,
      stopTimeoutMs: 5_000,
    });
  }, 60_000);

  afterAll(async () => {
    await toolgate?.stop();
    await idp?.stop();
    await envoy?.stop();
    for (const front of fronts) await front.stop();
    for (const backend of backends) await backend.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('an MCP session through Envoy works: initialize fans out over TLS, a tool call reaches its backend', async () => {
    const token = await idp.mint({ authorized_tasks: ['support'] });
    const agent = await connectAs(`${envoy.url}/mcp`, token);
    try {
      const { tools } = await agent.client.listTools();
      expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['billing.echo', 'inventory.echo']));
      const result = (await agent.client.callTool({ name: 'billing.echo', arguments: { text: 'over mTLS' } })) as CallToolResult;
      expect(result.isError ?? false).toBe(false);
      expect(JSON.stringify(result.content)).toContain('over mTLS');
      // The client's GET stream: Envoy → toolgate's event-stream server over mTLS → a GET at each backend.
      await eventually(() => backends.every((b) => b.requests.some((r) => r.httpMethod === 'GET')), 'a GET stream at both backends');
      expect(await envoy.stat('cluster.toolgate_events.ssl.handshake')).toBeGreaterThan(0);
    } finally {
      await agent.close();
    }
    expect(backends[0]?.calls('echo')).toHaveLength(1);
    expect(fronts.reduce((n, f) => n + f.handshakes(), 0)).toBeGreaterThan(0);
    expect(await envoy.stat('cluster.toolgate.ssl.handshake')).toBeGreaterThan(0);
  });

  /** grpc.health.v1 Check over the given credentials: 'SERVING', or the error's code. */
  async function healthCheck(credentials: grpc.ChannelCredentials): Promise<string> {
    const client = new grpc.Client(`127.0.0.1:${grpcPort}`, credentials, { 'grpc.ssl_target_name_override': SANS.TOOLGATE_TLS_SAN });
    try {
      return await new Promise<string>((resolve) => {
        client.makeUnaryRequest('/grpc.health.v1.Health/Check', () => Buffer.alloc(0), (b: Buffer) => b, Buffer.alloc(0),
          { deadline: Date.now() + 5_000 }, (err, value) => resolve(err ? grpc.status[err.code] ?? String(err.code) : value && value.length > 0 ? 'SERVING' : 'EMPTY'));
      });
    } finally {
      client.close();
    }
  }

  it('toolgate\'s event-stream server refuses plain HTTP and TLS without a client certificate', async () => {
    await expect(fetch(`http://127.0.0.1:${eventsPort}/mcp`)).rejects.toThrow();
    const ca = await readFile(pki.ca);
    const refused = await new Promise<string>((resolve) => {
      const req = httpsRequest({ host: '127.0.0.1', port: eventsPort, path: '/mcp', ca, servername: SANS.TOOLGATE_TLS_SAN }, (res) => resolve(`HTTP ${res.statusCode}`));
      req.on('error', (err) => resolve(`refused: ${err.message}`));
      req.end();
    });
    expect(refused).toMatch(/^refused/);
  });

  it('toolgate refuses a plain-text gRPC connection', async () => {
    expect(await healthCheck(grpc.credentials.createInsecure())).toBe('UNAVAILABLE');
  });

  it('toolgate refuses TLS without a client certificate, and one from another CA', async () => {
    const ca = await readFile(pki.ca);
    expect(await healthCheck(grpc.credentials.createSsl(ca))).toBe('UNAVAILABLE');
    const [cert, key] = await Promise.all([readFile(pki.stranger.cert), readFile(pki.stranger.key)]);
    expect(await healthCheck(grpc.credentials.createSsl(ca, key, cert))).toBe('UNAVAILABLE');
  });

  it('…and answers a client with Envoy\'s certificate (the refusals above are about the certificate)', async () => {
    const [ca, cert, key] = await Promise.all([readFile(pki.ca), readFile(pki.envoy.cert), readFile(pki.envoy.key)]);
    expect(await healthCheck(grpc.credentials.createSsl(ca, key, cert))).toBe('SERVING');
  });
});

describe('envoy/gateway-mtls.yaml', () => {
  it('is exactly what `toolgate render envoy --config examples/gateway.yaml --mtls` writes', async () => {
    const rendered = renderEnvoyFile(join(REPO_ROOT, 'examples', 'gateway.yaml'), { source: 'examples/gateway.yaml', mtls: true });
    const checkedIn = await readFile(TEMPLATE, 'utf8');
    expect(rendered === checkedIn, 'envoy/gateway-mtls.yaml is out of date: run `npm run render` and commit the result').toBe(true);
  });

  it('is what the CLI writes with --mtls', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'toolgate-mtls-cli-'));
    try {
      const out = join(dir, 'gateway-mtls.yaml');
      // The header names the config relative to the working directory, which is the repository root in the suite.
      expect(await main(['render', 'envoy', '--config', join(REPO_ROOT, 'examples', 'gateway.yaml'), '--mtls', '--out', out])).toBe(0);
      expect(await readFile(out, 'utf8')).toBe(await readFile(TEMPLATE, 'utf8'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('passes the pinned envoy --mode validate with certificates in place', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'toolgate-mtls-validate-'));
    try {
      const pki = await makePki(dir);
      const template = await readFile(TEMPLATE, 'utf8');
      let port = 21000;
      const vars: Record<string, string | number> = {
        ENVOY_TLS_CERT_FILE: pki.envoy.cert, ENVOY_TLS_KEY_FILE: pki.envoy.key, TLS_CA_FILE: pki.ca, ...SANS,
      };
      for (const key of templatePlaceholders(template)) vars[key] ??= key.endsWith('_ADDRESS') ? '127.0.0.1' : port++;
      const path = join(dir, 'envoy.yaml');
      await writeFile(path, renderTemplate(template, vars));
      const result = validateEnvoyConfig(path);
      expect(result.ok, result.output).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('puts TLS with Envoy\'s client certificate on the toolgate cluster and every backend cluster, and only there', async () => {
    const doc = parse(await readFile(TEMPLATE, 'utf8')) as { static_resources: { clusters: Array<{ name: string; transport_socket?: { typed_config: Record<string, any> } }> } };
    const clusters = doc.static_resources.clusters;
    expect(clusters.map((c) => c.name)).toEqual(['toolgate', 'toolgate_events', 'billing', 'inventory']);
    for (const c of clusters) {
      const tls = c.transport_socket?.typed_config;
      expect(tls?.['@type'], c.name).toBe('type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext');
      expect(tls?.common_tls_context.tls_certificates[0].certificate_chain.filename).toBe('${ENVOY_TLS_CERT_FILE}');
      expect(tls?.common_tls_context.validation_context.trusted_ca.filename).toBe('${TLS_CA_FILE}');
      expect(tls?.common_tls_context.alpn_protocols).toEqual([c.name === 'toolgate' ? 'h2' : 'http/1.1']);
    }
    const plain = parse(renderEnvoyFile(join(REPO_ROOT, 'examples', 'gateway.yaml'), { source: 'x' })) as typeof doc;
    expect(plain.static_resources.clusters.some((c) => c.transport_socket)).toBe(false);
  });
});
