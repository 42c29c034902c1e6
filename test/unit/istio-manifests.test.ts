// The checked-in Istio manifests: every object validates against its Kubernetes / Istio schema, the kustomizations
// list what is there, and the pieces agree with each other and with the toolgate config they were rendered from.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { IstioOperator } from '@kubernetes-models/istio/install.istio.io/v1alpha1';
import { DestinationRule, Gateway, VirtualService } from '@kubernetes-models/istio/networking.istio.io/v1';
import { EnvoyFilter } from '@kubernetes-models/istio/networking.istio.io/v1alpha3';
import { AuthorizationPolicy, PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseConfigText } from '../../src/app/runtime/load.js';
import { checkedInFiles, ISTIO_DIR, manifests, only, PATTERNS, type Loose, type Manifest } from '../harness/istio.js';
import { extProcConfig, SKIP_WHEN_FINISHED } from '../harness/render.js';

type Model = { validate(): void };
const MODELS: Record<string, new (data: Loose) => Model> = {
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'security.istio.io/v1/PeerAuthentication': PeerAuthentication,
  'security.istio.io/v1/AuthorizationPolicy': AuthorizationPolicy,
  'networking.istio.io/v1alpha3/EnvoyFilter': EnvoyFilter,
  'networking.istio.io/v1/DestinationRule': DestinationRule,
  'networking.istio.io/v1/Gateway': Gateway,
  'networking.istio.io/v1/VirtualService': VirtualService,
  'install.istio.io/v1alpha1/IstioOperator': IstioOperator,
};

const all = manifests();
const objects = all.filter((m) => m.doc.kind !== 'Kustomization');

describe('every object validates against its schema', () => {
  it('covers every kind the deployment needs', () => {
    const kinds = new Set(objects.map((m) => m.doc.kind));
    for (const kind of ['Deployment', 'Service', 'ConfigMap', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'NetworkPolicy',
      'PeerAuthentication', 'AuthorizationPolicy', 'EnvoyFilter', 'DestinationRule', 'IstioOperator']) {
      expect(kinds, kind).toContain(kind);
    }
  });

  it.each(objects.map((m): [string, string, Manifest] => [m.file, `${m.doc.kind}/${m.doc.metadata?.name}`, m]))('%s: %s', (_file, _name, m) => {
    const Model = MODELS[`${m.doc.apiVersion}/${m.doc.kind}`];
    expect(Model, `no schema model for ${m.doc.apiVersion} ${m.doc.kind}`).toBeDefined();
    expect(() => new (Model as new (data: Loose) => Model)(m.doc).validate()).not.toThrow();
    expect(m.doc.metadata.namespace, 'every object names its namespace').toMatch(/^[a-z0-9-]+$/);
  });

  it('the schemas do catch mistakes (a wrong enum, a string for a number)', () => {
    const filter = structuredClone(only(all, 'EnvoyFilter', 'gateway'));
    filter.spec.configPatches[0].patch.operation = 'INSERT_SOMEWHERE';
    expect(() => new EnvoyFilter(filter).validate()).toThrow(/operation/);
    const deploy = structuredClone(only(all, 'Deployment'));
    deploy.spec.replicas = 'two';
    expect(() => new Deployment(deploy).validate()).toThrow(/replicas/);
  });
});

describe.each(['base', ...PATTERNS])('istio/%s/kustomization.yaml', (dir) => {
  const kustomization = only(all, 'Kustomization', dir);
  const listed: string[] = [...kustomization.resources, ...(kustomization.patches ?? []).map((p: Loose) => p.path)];

  it('lists files that exist, and every manifest of the folder but the mesh config', () => {
    for (const entry of listed) expect(existsSync(join(ISTIO_DIR, dir, entry)), entry).toBe(true);
    const files = checkedInFiles().filter((f) => f.startsWith(`${dir}/`)).map((f) => f.slice(dir.length + 1));
    const expected = files.filter((f) => f !== 'kustomization.yaml' && f !== 'mesh-config.yaml');
    expect(listed.filter((e) => e !== '../base').sort()).toEqual(expected.sort());
    if (dir !== 'base') expect(listed).toContain('../base');
  });
});

/** Istio's MeshConfig.ExtensionProvider.EnvoyExternalAuthorizationGrpcProvider, field names as Istio spells them. */
const grpcProvider = z.object({
  service: z.string(),
  port: z.number().int(),
  timeout: z.string().regex(/^\d+(\.\d+)?(ms|s|m|h)$/),
  failOpen: z.boolean(),
  statusOnError: z.string().regex(/^\d{3}$/),
  includeRequestBodyInCheck: z.object({ maxRequestBytes: z.number().int(), allowPartialMessage: z.boolean(), packAsBytes: z.boolean() }).strict(),
}).strict();

describe.each(PATTERNS)('istio/%s agrees with istio/base', (pattern) => {
  const service = only(all, 'Service', 'base');
  const grpcPort: number = service.spec.ports.find((p: Loose) => p.name === 'grpc').port;
  const fqdn = `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`;
  const provider = only(all, 'IstioOperator', pattern).spec.meshConfig.extensionProviders[0];
  const config = parseConfigText(only(all, 'ConfigMap', pattern).data['config.yaml'], `${pattern}/toolgate-config.yaml`);

  it('the extension provider: toolgate\'s Service and gRPC port, fail closed, the whole body as bytes', () => {
    const authz = grpcProvider.parse(provider.envoyExtAuthzGrpc);
    expect(authz).toMatchObject({
      service: fqdn,
      port: grpcPort,
      failOpen: false,
      includeRequestBodyInCheck: { maxRequestBytes: config.policy.maxBodyBytes, allowPartialMessage: false, packAsBytes: true },
    });
  });

  it('the CUSTOM AuthorizationPolicy names that provider and the MCP endpoint\'s paths', () => {
    const policy = only(all, 'AuthorizationPolicy', pattern);
    expect(policy.spec).toMatchObject({ action: 'CUSTOM', provider: { name: provider.name } });
    expect(policy.spec.rules[0].to[0].operation.paths).toEqual(expect.arrayContaining(['/mcp', '/.well-known/oauth-protected-resource']));
  });

  it('the EnvoyFilter puts ext_proc before the router, calling Istio\'s cluster for toolgate\'s gRPC port', () => {
    const filter = only(all, 'EnvoyFilter', pattern);
    const [patch] = filter.spec.configPatches;
    expect(patch.match.context).toBe(pattern === 'gateway' ? 'GATEWAY' : 'SIDECAR_INBOUND');
    expect(patch.match.listener.filterChain.filter.subFilter.name).toBe('envoy.filters.http.router');
    expect(patch.patch.operation).toBe('INSERT_BEFORE');
    const ext = extProcConfig(patch.patch.value);
    expect(patch.patch.value.name).toBe('envoy.filters.http.ext_proc');
    // Sidecar: skipped for the calls ext_authz finished (Istio's ext_authz provider writes the same namespace).
    if (pattern === 'sidecar') expect(patch.patch.value.typed_config.xds_matcher).toEqual(SKIP_WHEN_FINISHED);
    else expect(patch.patch.value.typed_config.xds_matcher).toBeUndefined();
    expect(ext).toMatchObject({
      grpc_service: { envoy_grpc: { cluster_name: `outbound|${grpcPort}||${fqdn}` } },
      failure_mode_allow: false,
      allow_mode_override: true,
      message_timeout: '10s',
      metadata_options: { forwarding_namespaces: { untyped: ['envoy.filters.http.ext_authz'] } },
      processing_mode: { request_body_mode: pattern === 'gateway' ? 'BUFFERED' : 'NONE' },
    });
    // Both the policy and the filter select the same proxies.
    expect(filter.spec.workloadSelector.labels).toEqual(only(all, 'AuthorizationPolicy', pattern).spec.selector.matchLabels);
  });

  it('the overlay\'s config is a valid toolgate config whose secrets come from the Secret mount', () => {
    expect(config.session.keys?.length).toBeGreaterThan(0);
    for (const key of config.session.keys ?? []) {
      expect(key.secret).toBeUndefined();
      expect(key.secretFile).toMatch(/^\/var\/run\/secrets\/toolgate\/session-/);
    }
    const secretMount = only(all, 'Deployment').spec.template.spec.containers[0].volumeMounts.find((v: Loose) => v.name === 'secrets');
    expect(secretMount.mountPath).toBe('/var/run/secrets/toolgate');
  });
});

describe('istio/gateway routing', () => {
  const config = parse(only(all, 'ConfigMap', 'gateway').data['config.yaml']) as Loose;
  const backends = Object.keys(config.backends).sort();

  it('one DestinationRule per backend, ring-hashed on x-toolgate-affinity', () => {
    const rules = all.filter((m) => m.doc.kind === 'DestinationRule').map((m) => m.doc);
    expect(rules.map((r) => r.spec.host.split('.')[0]).sort()).toEqual(backends);
    for (const r of rules) expect(r.spec.trafficPolicy.loadBalancer.consistentHash.httpHeaderName).toBe('x-toolgate-affinity');
  });

  it('the gateway and toolgate\'s egress route every backend on x-toolgate-backend, to the DestinationRules\' hosts', () => {
    const hosts = new Set(all.filter((m) => m.doc.kind === 'DestinationRule').map((m) => m.doc.spec.host));
    const services = all.filter((m) => m.doc.kind === 'VirtualService').map((m) => m.doc);
    expect(services).toHaveLength(2);
    for (const vs of services) {
      const routed = vs.spec.http.filter((h: Loose) => h.match && h.name !== 'events-stream');
      expect(routed.map((h: Loose) => h.match[0].headers['x-toolgate-backend'].exact).sort()).toEqual(backends);
      for (const h of routed) expect(hosts).toContain(h.route[0].destination.host);
    }
  });

  it('routes a granted GET to toolgate\'s event-stream port, before the catch-all, and only the gateway may reach it', () => {
    const vs = all.find((m) => m.doc.kind === 'VirtualService' && m.doc.spec.gateways.includes('istio-system/toolgate-mcp'))?.doc;
    const names = vs.spec.http.map((h: Loose) => h.name);
    expect(names.slice(-2)).toEqual(['events-stream', 'no-backend']);
    const route = vs.spec.http.find((h: Loose) => h.name === 'events-stream');
    // Matched only once toolgate's ext_proc has set its grant (a client's copy is stripped at the edge).
    expect(route.match).toEqual([{ method: { exact: 'GET' }, headers: { 'x-toolgate-events-grant': {} } }]);
    // No deadline on the stream: Istio leaves a route without `timeout` undeadlined (it refuses an explicit 0s).
    expect(route.timeout).toBeUndefined();
    const events = all.find((m) => m.doc.kind === 'Service' && m.doc.metadata.name === 'toolgate-events')?.doc;
    expect(route.route[0].destination).toEqual({
      host: `toolgate-events.${events.metadata.namespace}.svc.cluster.local`,
      port: { number: config.server.eventsPort },
    });
    expect(events.spec.ports).toEqual([expect.objectContaining({ port: config.server.eventsPort, targetPort: config.server.eventsPort, appProtocol: 'http' })]);
    expect(events.spec.selector).toEqual(only(all, 'Deployment').spec.selector.matchLabels);
    const policy = only(all, 'NetworkPolicy', 'gateway');
    const admitting = policy.spec.ingress.filter((r: Loose) => r.ports.some((p: Loose) => p.port === config.server.eventsPort));
    expect(admitting.map((r: Loose) => r.from)).toEqual([[{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-system' } }, podSelector: { matchLabels: { istio: 'ingressgateway' } } }]]);
  });

  it('toolgate\'s fan-out goes to the egress name its sidecar routes, not to a loopback listener', () => {
    const egress = all.find((m) => m.doc.kind === 'VirtualService' && m.doc.spec.gateways.includes('mesh'))?.doc;
    expect(`http://${egress.spec.hosts[0]}`).toBe(config.egress.url);
    const service = all.find((m) => m.doc.kind === 'Service' && m.file === 'gateway/egress.yaml')?.doc;
    expect(`${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`).toBe(egress.spec.hosts[0]);
  });
});

describe('istio/base', () => {
  const deployment = only(all, 'Deployment');
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const service = only(all, 'Service', 'base');

  it('runs non-root on a read-only root filesystem, with resources and probes on the admin port', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(container.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(container.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http-admin' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http-admin' });
    expect(container.resources.requests).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();
  });

  it('reads its config from the ConfigMap and its keys from a Secret', () => {
    const configMap = only(all, 'ConfigMap', 'base');
    const volume = (name: string) => pod.volumes.find((v: Loose) => v.name === name);
    expect(volume('config').configMap.name).toBe(configMap.metadata.name);
    expect(volume('secrets').secret.secretName).toBe('toolgate-secrets');
    expect(container.volumeMounts.find((m: Loose) => m.name === 'config').mountPath).toBe('/etc/toolgate');
    expect(() => parseConfigText(configMap.data['config.yaml'], 'base/configmap.yaml')).not.toThrow();
  });

  it('names the Service ports grpc and http-admin, and they reach the container ports', () => {
    const byName = Object.fromEntries(service.spec.ports.map((p: Loose) => [p.name, p]));
    expect(Object.keys(byName).sort()).toEqual(['grpc', 'http-admin']);
    const containerPorts = Object.fromEntries(container.ports.map((p: Loose) => [p.name, p.containerPort]));
    expect(containerPorts).toEqual({ grpc: byName.grpc.port, 'http-admin': byName['http-admin'].port });
  });

  it('the PDB, HPA, NetworkPolicy and PeerAuthentication all target the toolgate pods', () => {
    const labels = deployment.spec.template.metadata.labels;
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    expect(selects(only(all, 'PodDisruptionBudget').spec.selector.matchLabels)).toBe(true);
    for (const pattern of PATTERNS) expect(selects(only(all, 'NetworkPolicy', pattern).spec.podSelector.matchLabels)).toBe(true);
    expect(selects(only(all, 'PeerAuthentication').spec.selector.matchLabels)).toBe(true);
    expect(only(all, 'PeerAuthentication').spec.mtls.mode).toBe('STRICT');
    expect(only(all, 'HorizontalPodAutoscaler').spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
    expect(only(all, 'HorizontalPodAutoscaler').spec.minReplicas).toBeGreaterThanOrEqual(only(all, 'PodDisruptionBudget').spec.minAvailable + 1);
  });

  it.each([
    ['sidecar', [{ namespaceSelector: {}, podSelector: { matchLabels: { 'toolgate.io/mcp': 'sidecar' } } }]],
    ['gateway', [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-system' } }, podSelector: { matchLabels: { istio: 'ingressgateway' } } }]],
  ] as const)('%s: only the pattern\'s Envoys reach the gRPC port, only monitoring the admin port', (pattern, envoys) => {
    const grpcPort = service.spec.ports.find((p: Loose) => p.name === 'grpc').port;
    const adminPort = service.spec.ports.find((p: Loose) => p.name === 'http-admin').port;
    const policy = only(all, 'NetworkPolicy', pattern);
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    const rules: Loose[] = policy.spec.ingress;
    // Every rule names its sources: none admits the whole cluster.
    for (const rule of rules) expect(rule.from?.length, JSON.stringify(rule)).toBeGreaterThan(0);
    const to = (port: number) => rules.filter((r) => r.ports.some((p: Loose) => p.port === port));
    expect(to(grpcPort).map((r) => r.from)).toEqual([envoys]);
    expect(to(adminPort).map((r) => r.from)).toEqual([[{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]]);
    // The EnvoyFilter and the AuthorizationPolicy select the same pods the gRPC rule admits.
    expect(only(all, 'EnvoyFilter', pattern).spec.workloadSelector.labels).toEqual(envoys[0]?.podSelector.matchLabels);
  });

  it('mounts the admin bearer token from the Secret toolgate-admin, where each overlay\'s config reads it', () => {
    const volume = pod.volumes.find((v: Loose) => v.name === 'admin-token');
    expect(volume.secret.secretName).toBe('toolgate-admin');
    const mount = container.volumeMounts.find((m: Loose) => m.name === 'admin-token');
    expect(mount).toMatchObject({ mountPath: '/var/run/secrets/toolgate-admin', readOnly: true });
    for (const pattern of PATTERNS) {
      const config = parse(only(all, 'ConfigMap', pattern).data['config.yaml']) as Loose;
      expect(config.server.adminTokenFile).toBe(`${mount.mountPath}/token`);
      // In a pod toolgate listens on the pod IP: the NetworkPolicy and mTLS decide who reaches it.
      expect(config.server.host).toBe('0.0.0.0');
    }
  });
});
