// `toolgate render istio`: Kubernetes and Istio manifests for a toolgate config, as a kustomize base and one overlay.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../core/config/errors.js';
import { parseConfigText } from '../../app/runtime/load.js';
import type { ParsedConfig } from '../../core/config/schema.js';
import {
  baseKustomization, configMap, deployment, horizontalPodAutoscaler, peerAuthentication, podDisruptionBudget, service, serviceAccount,
} from './istio-base.js';
import { mountedConfig } from './istio-config.js';
import { eventsService } from './istio-events.js';
import {
  authorizationPolicy, configPatch, destinationRule, egressService, egressVirtualService, envoyFilter, gateway, gatewayVirtualService, meshConfig,
  overlayKustomization,
} from './istio-mesh.js';
import { networkPolicy } from './istio-network.js';
import { planIstio, type IstioOptions, type IstioPlan } from './istio-plan.js';
import { toYaml } from './yaml.js';

export interface IstioRenderOptions extends IstioOptions {
  /** The config path as the header comment names it. */
  readonly source: string;
}

/** Relative path (`base/deployment.yaml`, `gateway/envoyfilter.yaml`, …) → file text. */
export type RenderedFiles = ReadonlyMap<string, string>;

export function renderIstioFile(file: string, opts: IstioRenderOptions): RenderedFiles {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: `cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
  return renderIstio(text, parseConfigText(text, file), file, opts);
}

export function renderIstio(text: string, config: ParsedConfig, file: string, opts: IstioRenderOptions): RenderedFiles {
  const plan = planIstio(config, file, opts);
  const mounted = mountedConfig(text, config, file, plan);
  const out = new Map<string, string>();
  const put = (path: string, what: string, ...docs: object[]) => {
    // base/ is the same for every config with the same ports, but for the config itself: its headers say so.
    const from = path.startsWith('base/') && path !== 'base/configmap.yaml' ? undefined : opts.source;
    out.set(path, `${headerComment(plan, from, what)}${docs.map((d) => toYaml(d)).join('---\n')}`);
  };

  const base: Array<[string, string, object]> = [
    ['serviceaccount.yaml', 'toolgate\'s identity in the mesh', serviceAccount(plan)],
    ['configmap.yaml', `the toolgate config (the overlays replace it with their own, see toolgate-config.yaml there)`, configMap(plan, mounted)],
    ['deployment.yaml', 'toolgate: non-root, read-only root filesystem, config from the ConfigMap, secrets from a Secret', deployment(plan, mounted)],
    ['service.yaml', 'gRPC (ext_authz + ext_proc) and admin ports', service(plan)],
    ['pdb.yaml', 'keep a replica through voluntary disruptions', podDisruptionBudget(plan)],
    ['hpa.yaml', 'scale on CPU', horizontalPodAutoscaler(plan)],
    ['peerauthentication.yaml', 'mesh mTLS only', peerAuthentication(plan)],
  ];
  for (const [name, what, doc] of base) put(`base/${name}`, what, doc);
  put('base/kustomization.yaml', 'kubectl apply -k istio/base (then an overlay)', baseKustomization(plan, base.map(([name]) => name)));

  const dir = plan.mode;
  put(`${dir}/mesh-config.yaml`, 'the ext_authz extension provider (istioctl install -f, or Helm meshConfig)', meshConfig(plan));
  put(`${dir}/authorizationpolicy.yaml`, 'CUSTOM action: the mesh asks toolgate', authorizationPolicy(plan));
  put(`${dir}/envoyfilter.yaml`, `ext_proc in the ${plan.mode === 'gateway' ? 'ingress gateway' : 'MCP server\'s sidecar (inbound)'}, and its listener's edge settings`, envoyFilter(plan));
  put(`${dir}/networkpolicy.yaml`, `only the ${plan.mode === 'gateway' ? 'ingress gateway' : 'MCP servers\' sidecars'} reach the gRPC port, only monitoring the admin port`, networkPolicy(plan));
  put(`${dir}/toolgate-config.yaml`, `the toolgate config for this pattern (replaces the base's)`, configPatch(plan, { 'config.yaml': mounted.text, ...mounted.files }));
  const resources = ['authorizationpolicy.yaml', 'envoyfilter.yaml', 'networkpolicy.yaml'];
  if (plan.mode === 'gateway') {
    put(`${dir}/destinationrules.yaml`, 'one per backend: ring hash on x-toolgate-affinity', ...plan.backends.map((b) => destinationRule(plan, b)));
    put(`${dir}/gateway.yaml`, 'the ingress gateway listener for the MCP host', gateway(plan));
    put(`${dir}/virtualservice.yaml`, 'route on x-toolgate-backend', gatewayVirtualService(plan));
    put(`${dir}/egress.yaml`, 'how toolgate\'s fan-out reaches the backends (through its own sidecar)', egressService(plan), egressVirtualService(plan));
    resources.push('destinationrules.yaml', 'gateway.yaml', 'virtualservice.yaml', 'egress.yaml');
    if (plan.eventsPort !== undefined) {
      put(`${dir}/events.yaml`, 'toolgate\'s event-stream port, where the gateway routes GET streams', eventsService(plan, plan.eventsPort));
      resources.push('events.yaml');
    }
  }
  put(`${dir}/kustomization.yaml`, `kubectl apply -k istio/${dir}`, overlayKustomization(resources, 'toolgate-config.yaml'));
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function headerComment(plan: IstioPlan, source: string | undefined, what: string): string {
  return [
    source === undefined
      ? `# GENERATED by \`toolgate render istio\` (namespace ${plan.namespace}).`
      : `# GENERATED by \`toolgate render istio\` from ${source} (namespace ${plan.namespace}, ${plan.mode} pattern).`,
    '# Do not edit by hand: change the config and render again (`npm run render` for the files in this repository).',
    `# This file: ${what}.`,
    '',
  ].join('\n');
}

/** Every file as one YAML stream, for stdout. */
export function concatenate(files: RenderedFiles): string {
  return [...files].map(([path, text]) => `# ---- ${path} ----\n${text}`).join('---\n');
}
