// istio/base: toolgate itself in Kubernetes — Deployment, Service, ConfigMap, PDB, HPA, mTLS.
import type { MountedConfig } from './istio-config.js';
import { ADMIN_SECRET_DIR, ADMIN_SECRET_NAME, APP, CONFIG_DIR, SECRETS_DIR, SECRET_NAME, type IstioPlan } from './istio-plan.js';
import { note } from './yaml.js';

/** Non-root, and the same numeric uid the Dockerfile's USER names. */
export const RUN_AS = 10001;
export const VERSION = '0.1.0';
export const IMAGE = `toolgate:${VERSION}`;

export const SELECTOR = { 'app.kubernetes.io/name': APP } as const;
const LABELS = { ...SELECTOR, app: APP, 'app.kubernetes.io/component': 'policy' } as const;

export const meta = (plan: IstioPlan, name = APP) => ({ name, namespace: plan.namespace, labels: { ...LABELS } });

export function serviceAccount(plan: IstioPlan): object {
  return note({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(plan), automountServiceAccountToken: false }, {
    automountServiceAccountToken: 'toolgate never calls the Kubernetes API.',
  });
}

export function configMap(plan: IstioPlan, mounted: MountedConfig): object {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(plan, `${APP}-config`),
    data: { 'config.yaml': mounted.text, ...mounted.files },
  };
}

export function deployment(plan: IstioPlan, mounted: MountedConfig): object {
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port: 'http-admin' },
    periodSeconds,
    timeoutSeconds: 2,
    failureThreshold,
  });
  const container = note({
    name: APP,
    image: IMAGE,
    imagePullPolicy: 'IfNotPresent',
    args: ['--host', '0.0.0.0'],
    env: [
      { name: 'NODE_ENV', value: 'production' },
      { name: 'TOOLGATE_LOG_LEVEL', value: 'info' },
    ],
    ports: [
      { name: 'grpc', containerPort: plan.grpcPort, protocol: 'TCP' },
      { name: 'http-admin', containerPort: plan.adminPort, protocol: 'TCP' },
    ],
    startupProbe: probe('/healthz', 2, 30),
    livenessProbe: probe('/healthz', 10, 3),
    readinessProbe: probe('/readyz', 5, 2),
    resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '2', memory: '512Mi' } },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RUN_AS,
      runAsGroup: RUN_AS,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [
      { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
      { name: 'secrets', mountPath: SECRETS_DIR, readOnly: true },
      { name: 'admin-token', mountPath: ADMIN_SECRET_DIR, readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
    ],
  }, {
    args: 'Appended to the image\'s entrypoint (serve --config /etc/toolgate/config.yaml): listen on the pod IP.',
    readinessProbe: '/readyz fails while draining and while the shared store is unreachable.',
    resources: 'Memory bounds the buffered bodies (policy.maxBodyBytes per in-flight request).',
  });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(plan),
    spec: {
      replicas: 2,
      selector: { matchLabels: { ...SELECTOR } },
      template: {
        metadata: note({
          labels: { ...LABELS, 'app.kubernetes.io/version': VERSION, 'sidecar.istio.io/inject': 'true' },
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(plan.adminPort), 'prometheus.io/path': '/metrics' },
        }, { labels: 'Name and version: Istio\'s canonical service labels for its metrics and telemetry (istioctl validate asks for both).' }),
        spec: note({
          serviceAccountName: APP,
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: plan.shutdownGraceSeconds + 5,
          securityContext: { runAsNonRoot: true, runAsUser: RUN_AS, runAsGroup: RUN_AS, fsGroup: RUN_AS, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [container],
          volumes: [
            note({ name: 'config', configMap: { name: `${APP}-config` } }, {
              configMap: 'A directory mount (no subPath), so ConfigMap edits reach the file and toolgate reloads them.',
            }),
            note({ name: 'secrets', secret: { secretName: SECRET_NAME, defaultMode: 0o440 } }, {
              secret: `Create it before applying (never checked in); it must hold: ${mounted.secrets.map((s) => s.key).join(', ')}.`,
            }),
            note({ name: 'admin-token', secret: { secretName: ADMIN_SECRET_NAME, defaultMode: 0o440 } }, {
              secret: 'The admin API\'s bearer token (key token, read as server.adminTokenFile): without it toolgate does not start.',
            }),
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
          ],
          topologySpreadConstraints: [{
            maxSkew: 1,
            topologyKey: 'kubernetes.io/hostname',
            whenUnsatisfiable: 'ScheduleAnyway',
            labelSelector: { matchLabels: { ...SELECTOR } },
          }],
        }, { terminationGracePeriodSeconds: 'server.shutdownGrace plus a margin: in-flight streams drain before the kill.' }),
      },
    },
  };
}

export function service(plan: IstioPlan): object {
  return note({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(plan),
    spec: {
      selector: { ...SELECTOR },
      ports: [
        { name: 'grpc', port: plan.grpcPort, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'grpc' },
        { name: 'http-admin', port: plan.adminPort, targetPort: 'http-admin', protocol: 'TCP', appProtocol: 'http' },
      ],
    },
  }, { spec: 'The port names tell Istio the protocols: gRPC (HTTP/2) for ext_authz and ext_proc, HTTP for admin.' });
}

export function podDisruptionBudget(plan: IstioPlan): object {
  return note({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(plan),
    spec: { minAvailable: 1, selector: { matchLabels: { ...SELECTOR } } },
  }, { spec: 'Envoy fails closed without toolgate: a drain must never take the last replica.' });
}

export function horizontalPodAutoscaler(plan: IstioPlan): object {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta(plan),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: APP },
      minReplicas: 2,
      maxReplicas: 10,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
      behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
    },
  };
}

export function peerAuthentication(plan: IstioPlan): object {
  return note({
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: meta(plan),
    spec: { selector: { matchLabels: { ...SELECTOR } }, mtls: { mode: 'STRICT' } },
  }, { spec: 'Plain-text connections to toolgate are refused: only mesh workloads with a certificate get through.' });
}

export function baseKustomization(plan: IstioPlan, files: readonly string[]): object {
  return {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    namespace: plan.namespace,
    resources: [...files],
  };
}
