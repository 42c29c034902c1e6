#!/usr/bin/env node
// `npm run render`: regenerates every generated deployment file from its example config (after `npm run build`).
// The tests that guard each file (render-files, istio-files, mtls, compose) fail when one differs from what is listed here.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'bin', 'toolgate.js');

/** docker-compose.yml's ports (test/deploy/compose.test.ts renders with the same values). */
const COMPOSE_VARS = {
  LISTEN_ADDRESS: '0.0.0.0', LISTEN_PORT: '10000', ADMIN_PORT: '9901',
  TOOLGATE_GRPC_ADDRESS: '127.0.0.1', TOOLGATE_GRPC_PORT: '9001', TOOLGATE_EVENTS_PORT: '9003', EGRESS_PORT: '15001',
};

/** Where the generated part of charts/toolgate/values.yaml starts (test/deploy/helm.test.ts splits there too). */
const VALUES_MARKER = '# ---- generated below this line by `npm run render` (toolgate render helm --config examples/sidecar.yaml) ----';

const steps = [
  ['render', 'envoy', '--config', 'examples/sidecar.yaml', '--out', 'envoy/sidecar.yaml'],
  ['render', 'envoy', '--config', 'examples/gateway.yaml', '--out', 'envoy/gateway.yaml'],
  ['render', 'envoy', '--config', 'examples/gateway.yaml', '--mtls', '--out', 'envoy/gateway-mtls.yaml'],
  ['render', 'envoy', '--config', 'examples/compose.yaml', ...Object.entries(COMPOSE_VARS).flatMap(([k, v]) => ['--var', `${k}=${v}`]), '--out', 'envoy/compose.yaml'],
  // base/ from the sidecar example; the gateway example adds only its overlay (its base differs in the config alone).
  ['render', 'istio', '--config', 'examples/sidecar.yaml', '--out', 'istio'],
  ['render', 'istio', '--config', 'examples/gateway.yaml', '--out', 'istio', '--overlay-only'],
  // The Helm chart's values: the gateway example's as a file to pass with -f; the sidecar example's go into values.yaml.
  ['render', 'helm', '--config', 'examples/gateway.yaml', '--out', 'charts/examples/gateway-values.yaml'],
];

for (const dir of ['base', 'sidecar', 'gateway']) rmSync(join(root, 'istio', dir), { recursive: true, force: true });
for (const args of steps) {
  const out = spawnSync(process.execPath, [cli, ...args], { cwd: root, stdio: 'inherit' });
  if (out.status !== 0) {
    console.error(`render: toolgate ${args.join(' ')} failed`);
    process.exit(1);
  }
}

// charts/toolgate/values.yaml: the knobs above the marker line are written by hand; below it, the sidecar example.
const valuesFile = join(root, 'charts', 'toolgate', 'values.yaml');
const values = readFileSync(valuesFile, 'utf8');
const marker = values.indexOf(VALUES_MARKER);
if (marker < 0) {
  console.error(`render: ${valuesFile} lost its line "${VALUES_MARKER}"`);
  process.exit(1);
}
const sidecar = spawnSync(process.execPath, [cli, 'render', 'helm', '--config', 'examples/sidecar.yaml'], { cwd: root, encoding: 'utf8' });
if (sidecar.status !== 0) {
  console.error(`render: toolgate render helm --config examples/sidecar.yaml failed\n${sidecar.stderr}`);
  process.exit(1);
}
writeFileSync(valuesFile, `${values.slice(0, marker + VALUES_MARKER.length)}\n${sidecar.stdout}`);
console.log(`render: ${steps.length + 1} renders done`);
