// The import rules of src/ (docs/architecture.md draws the same layers). `npm test` runs them
// (test/unit/architecture.test.ts) and fails on any violation. Paths match `src/` anywhere in a path so the
// test can also run the rules over a small tree that breaks each one on purpose (test/fixtures/layers/).
//
// Layers, top to bottom; a module may import its own layer and the layers below it, never one above:
//   cli → app → envoy → pipeline → ports → core
const S = '(?:^|/)src/';
const above = {
  core: ['ports', 'pipeline', 'envoy', 'app', 'cli'],
  ports: ['pipeline', 'envoy', 'app', 'cli'],
  pipeline: ['envoy', 'app', 'cli'],
  envoy: ['app', 'cli'],
  app: ['cli'],
};
const upward = Object.entries(above).map(([layer, higher]) => ({
  name: `no-upward-from-${layer}`,
  comment: `src/${layer} may not import ${higher.map((h) => `src/${h}`).join(', ')}: dependencies point down.`,
  severity: 'error',
  from: { path: `${S}${layer}/` },
  to: { path: `${S}(${higher.join('|')})/` },
}));

// Inside a layer, sibling folders have an order too (left may import right, never back).
//   core:     runtime.ts → {policy, identity, session, pins} → config → mcp
//   pipeline: {authz, extproc} → {pins, fanout, session}; authz and extproc never import each other
//   app:      server → observe → runtime
const sideways = [
  ['core-mcp-is-the-floor', `${S}core/mcp/`, `${S}core/(?!mcp/)`],
  ['core-config-reads-only-mcp', `${S}core/config/`, `${S}core/(?!(config|mcp)/)`],
  ['core-domains-read-config-and-mcp', `${S}core/(policy|identity|session|pins)/`, `${S}core/(?!(config|mcp)/|$1/)`],
  ['core-runtime-is-the-top-of-core', `${S}core/[^/]+/`, `${S}core/runtime\\.ts$`],
  ['pipeline-authz-not-extproc', `${S}pipeline/authz/`, `${S}pipeline/(extproc|fanout)/`],
  ['pipeline-extproc-not-authz', `${S}pipeline/extproc/`, `${S}pipeline/authz/`],
  ['pipeline-leaves', `${S}pipeline/(pins|fanout|session)/`, `${S}pipeline/(authz|extproc)/`],
  ['app-runtime-is-app-floor', `${S}app/runtime/`, `${S}app/(server|observe)/`],
  ['app-observe-below-server', `${S}app/observe/`, `${S}app/server/`],
].map(([name, from, to]) => ({ name, severity: 'error', from: { path: from }, to: { path: to } }));

module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'An import cycle: no module may reach itself.', severity: 'error', from: {}, to: { circular: true } },
    ...upward,
    ...sideways,
    {
      name: 'core-and-pipeline-speak-no-wire',
      comment: 'gRPC, Redis, Prometheus and the OpenTelemetry SDK belong to src/envoy, src/app and src/ports.',
      severity: 'error',
      from: { path: `${S}(core|pipeline)/` },
      to: { path: 'node_modules/(@grpc|ioredis|prom-client|@opentelemetry/sdk-node)/' },
    },
    { name: 'src-not-test', severity: 'error', from: { path: '^src/' }, to: { path: '^(test|bench|scripts)/' } },
    { name: 'no-unresolvable', severity: 'error', from: {}, to: { couldNotResolve: true } },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)dist/' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], mainFields: ['module', 'main', 'types'] },
  },
};
