// docker-compose.yml: Compose accepts it, and its topology matches envoy/compose.yaml (rendered from
// examples/compose.yaml): every backend endpoint is a service listening on that port, toolgate shares Envoy's network
// namespace, and the config's hostnames (IdP, Redis, Jaeger) are services too.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfigFile } from '../../src/app/runtime/load.js';
import { renderEnvoyFile } from '../../src/cli/render/envoy.js';
import { ENVOY_VERSION, validateEnvoyConfig } from '../harness/envoy.js';
import { REPO_ROOT } from '../harness/repo.js';

// Service definitions and Envoy bootstraps are checked as data.
type Loose = any;

/** The values scripts/render.mjs fills into envoy/compose.yaml. */
const COMPOSE_VARS = {
  LISTEN_ADDRESS: '0.0.0.0', LISTEN_PORT: '10000', ADMIN_PORT: '9901',
  TOOLGATE_GRPC_ADDRESS: '127.0.0.1', TOOLGATE_GRPC_PORT: '9001', TOOLGATE_EVENTS_PORT: '9003', EGRESS_PORT: '15001',
};

const COMPOSE_BIN = process.env.COMPOSE_BIN ?? 'docker-compose';
const ENVOY_FILE = join(REPO_ROOT, 'envoy', 'compose.yaml');
const CONFIG_FILE = join(REPO_ROOT, 'examples', 'compose.yaml');

/** `docker-compose config`: the file as Compose understands it (anchors merged, paths resolved). */
function composeConfig(): { ok: boolean; output: string; stdout: string } {
  const out = spawnSync(COMPOSE_BIN, ['-f', join(REPO_ROOT, 'docker-compose.yml'), 'config'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  if (out.error) {
    throw new Error(`cannot run ${COMPOSE_BIN} (${out.error.message}). Install it: \`sudo apt-get install -y docker-compose\` ` +
      '(`npm test` does it in pretest via scripts/install-compose.mjs when run as root), or set COMPOSE_BIN.');
  }
  return { ok: out.status === 0, output: `${out.stdout}${out.stderr}`, stdout: out.stdout };
}

let services: Record<string, Loose>;
let envoy: Loose;
beforeAll(async () => {
  const result = composeConfig();
  expect(result.ok, result.output).toBe(true);
  services = (parse(result.stdout) as Loose).services;
  envoy = parse(await readFile(ENVOY_FILE, 'utf8'));
});

/** The port a service listens on: `--port N` in its entrypoint/command. */
function listenPort(service: Loose): number | undefined {
  const argv: string[] = [...(service.entrypoint ?? []), ...(service.command ?? [])];
  const i = argv.indexOf('--port');
  return i >= 0 ? Number(argv[i + 1]) : undefined;
}

/** `published:target` of each published port, whichever form Compose printed (short string or long object). */
function published(service: Loose): string[] {
  return (service.ports ?? []).map((p: Loose) => (typeof p === 'object' ? `${p.published}:${p.target}` : String(p)));
}

const clusters = () => envoy.static_resources.clusters as Loose[];
const endpointsOf = (cluster: Loose): Array<{ address: string; port: number }> =>
  cluster.load_assignment.endpoints.flatMap((e: Loose) => e.lb_endpoints.map((l: Loose) => ({
    address: l.endpoint.address.socket_address.address, port: Number(l.endpoint.address.socket_address.port_value),
  })));
const listener = (name: string) => envoy.static_resources.listeners.find((l: Loose) => l.name === name);

describe('docker-compose.yml', () => {
  it('is accepted by `docker-compose config`', () => {
    expect(Object.keys(services).sort()).toEqual(['billing-1', 'billing-2', 'envoy', 'idp', 'inventory', 'jaeger', 'redis', 'toolgate']);
  });

  it('runs the pinned Envoy version on envoy/compose.yaml, publishing its MCP listener', () => {
    expect(services.envoy.image).toBe(`envoyproxy/envoy:v${ENVOY_VERSION}`);
    expect(services.envoy.volumes.map((v: Loose) => (typeof v === 'string' ? v : `${v.source}:${v.target}`)).join(' ')).toMatch(/envoy\/compose\.yaml:\/etc\/envoy\/envoy\.yaml/);
    const mcp = listener('mcp').address.socket_address;
    expect(mcp.address).toBe('0.0.0.0');
    expect(published(services.envoy)).toContain(`${mcp.port_value}:${mcp.port_value}`);
  });

  it('every backend endpoint in envoy/compose.yaml is a compose service listening on that port', () => {
    const backends = clusters().filter((c) => c.name !== 'toolgate' && c.name !== 'toolgate_events');
    expect(backends.map((c) => c.name)).toEqual(['billing', 'inventory']);
    const endpoints = backends.flatMap(endpointsOf);
    expect(endpoints.map((e) => e.address).sort()).toEqual(['billing-1', 'billing-2', 'inventory']);
    for (const e of endpoints) {
      expect(services[e.address], `service ${e.address}`).toBeDefined();
      expect(listenPort(services[e.address]), `${e.address}'s --port`).toBe(e.port);
    }
    // billing has two replicas, inventory one; each runs the demo server of its backend.
    for (const c of backends) {
      for (const e of endpointsOf(c)) expect(services[e.address].entrypoint.join(' ')).toContain(`--name ${c.name}`);
    }
  });

  it('toolgate shares Envoy\'s network namespace: its gRPC port and Envoy\'s loopback egress meet on 127.0.0.1', () => {
    const config = loadConfigFile(CONFIG_FILE).config;
    expect(services.toolgate.network_mode).toBe('service:envoy');
    expect(endpointsOf(clusters().find((c) => c.name === 'toolgate'))).toEqual([{ address: '127.0.0.1', port: config.server.grpcPort }]);
    // Its event-stream server (the merged GET stream) too.
    expect(endpointsOf(clusters().find((c) => c.name === 'toolgate_events'))).toEqual([{ address: '127.0.0.1', port: config.server.eventsPort }]);
    const egress = listener('egress').address.socket_address;
    expect(egress.address).toBe('127.0.0.1');
    expect(config.egress?.url).toBe(`http://127.0.0.1:${egress.port_value}`);
    expect(published(services.envoy).join(' ')).not.toContain(String(egress.port_value));
  });

  it('runs toolgate from the Dockerfile, read-only, non-root, with the config and demo key mounted', () => {
    const toolgate = services.toolgate;
    expect(toolgate.build.context).toBe(REPO_ROOT);
    expect(toolgate.read_only).toBe(true);
    expect(toolgate.user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    const mounts = toolgate.volumes.map((v: Loose) => (typeof v === 'string' ? v : `${v.source}:${v.target}`)).join(' ');
    expect(mounts).toContain(`${CONFIG_FILE}:/etc/toolgate/config.yaml`);
    expect(mounts).toContain(':/etc/toolgate/secrets');
    for (const name of ['billing-1', 'billing-2', 'inventory', 'idp']) expect(services[name].image, name).toBe(toolgate.image);
  });

  it('the config\'s hostnames are services: the IdP (JWKS), Redis, and Jaeger for OTLP traces', () => {
    const config = loadConfigFile(CONFIG_FILE).config;
    const jwks = new URL(config.identity.jwt.jwksUri as string);
    expect(services[jwks.hostname], jwks.hostname).toBeDefined();
    expect(listenPort(services[jwks.hostname])).toBe(Number(jwks.port));
    expect(services.idp.entrypoint).toEqual(expect.arrayContaining(['--issuer', config.identity.jwt.issuer, '--audience', config.resource]));
    expect(config.store.type).toBe('redis');
    const redis = new URL((config.store as { url: string }).url);
    expect(services[redis.hostname].image).toMatch(/^redis:(8|9)\.\d+-alpine$/);
    const otlp = new URL(services.toolgate.environment.OTEL_EXPORTER_OTLP_ENDPOINT);
    // Jaeger v2 (jaegertracing/jaeger): OTLP is on by default, on 4318 for HTTP. The v1 all-in-one image is end of life.
    expect(services[otlp.hostname].image).toMatch(/^jaegertracing\/jaeger:2\.\d+\.\d+$/);
    expect(otlp.port).toBe('4318');
    expect(services.toolgate.environment.OTEL_EXPORTER_OTLP_PROTOCOL).toBe('http/protobuf');
    // The demo token's audience is the endpoint clients on the host use.
    expect(config.resource).toBe(`http://localhost:${listener('mcp').address.socket_address.port_value}/mcp`);
  });
});

describe('envoy/compose.yaml', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'toolgate-compose-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('is exactly what examples/compose.yaml renders to with the compose ports', async () => {
    const rendered = renderEnvoyFile(CONFIG_FILE, { source: 'examples/compose.yaml', vars: COMPOSE_VARS });
    expect(rendered === (await readFile(ENVOY_FILE, 'utf8')), 'envoy/compose.yaml is out of date: run `npm run render` and commit the result').toBe(true);
  });

  it('has every placeholder filled and passes the pinned envoy --mode validate as it is', async () => {
    const text = await readFile(ENVOY_FILE, 'utf8');
    expect(text).not.toMatch(/\$\{[A-Z]/);
    const path = join(dir, 'envoy.yaml');
    await writeFile(path, text);
    const result = validateEnvoyConfig(path);
    expect(result.ok, result.output).toBe(true);
  });
});
