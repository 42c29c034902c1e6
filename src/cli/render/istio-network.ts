// The overlay's NetworkPolicy: toolgate's gRPC port only for the Envoys of its pattern, the admin port only for monitoring.
import { meta, SELECTOR } from './istio-base.js';
import { GATEWAY_SELECTOR, ISTIO_NAMESPACE, MONITORING_NAMESPACE, SIDECAR_SELECTOR, type IstioPlan } from './istio-plan.js';
import { note } from './yaml.js';

/** Istio's own ports on a pod with a sidecar: merged Prometheus metrics (pilot-agent) and Envoy's stats. */
const ISTIO_METRICS_PORTS = [15020, 15090];

const byName = (namespace: string) => ({ matchLabels: { 'kubernetes.io/metadata.name': namespace } });

export function networkPolicy(plan: IstioPlan): object {
  const envoys = plan.mode === 'gateway'
    ? [{ namespaceSelector: byName(ISTIO_NAMESPACE), podSelector: { matchLabels: { ...GATEWAY_SELECTOR } } }]
    : [{ namespaceSelector: {}, podSelector: { matchLabels: { ...SIDECAR_SELECTOR } } }];
  return note({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(plan),
    spec: {
      podSelector: { matchLabels: { ...SELECTOR } },
      policyTypes: ['Ingress'],
      ingress: [
        { from: envoys, ports: [plan.grpcPort, ...(plan.eventsPort === undefined ? [] : [plan.eventsPort])].map((port) => ({ protocol: 'TCP', port })) },
        {
          from: [{ namespaceSelector: byName(MONITORING_NAMESPACE) }],
          ports: [plan.adminPort, ...ISTIO_METRICS_PORTS].map((port) => ({ protocol: 'TCP', port })),
        },
      ],
    },
  }, {
    spec: [
      plan.mode === 'gateway'
        ? 'gRPC (ext_authz, ext_proc) and the GET event stream only from the ingress gateway\'s pods: whoever reaches\nthe gRPC port can ask for decisions and session tokens.'
        : 'gRPC (ext_authz, ext_proc) only from the MCP servers\' pods (label toolgate.io/mcp=sidecar, any namespace):\nwhoever reaches that port can ask for decisions and session tokens.',
      `The admin port (metrics; revocation needs its bearer token too) and Istio's metrics ports only from the\nnamespace ${MONITORING_NAMESPACE}. Kubelet probes come from the node, which a NetworkPolicy always admits.`,
    ].join('\n'),
  });
}
