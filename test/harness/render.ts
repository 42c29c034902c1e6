// Shared by the render tests: load an example config (optionally edited), render it, and walk the parsed bootstrap.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { configSchema, type RawConfig } from '../../src/core/config/schema.js';
import { compilePolicy } from '../../src/core/policy/compile.js';
import { renderEnvoy, type RenderOptions } from '../../src/cli/render/envoy.js';
import { REPO_ROOT } from './repo.js';

export const EXAMPLES = ['sidecar', 'gateway'] as const;
export type Example = (typeof EXAMPLES)[number];

/** The example's config as written (input shape), for tests that change one field. */
export function rawExample(name: Example): RawConfig {
  return parse(readFileSync(join(REPO_ROOT, 'examples', `${name}.yaml`), 'utf8')) as RawConfig;
}

export function render(raw: RawConfig, opts: Partial<RenderOptions> = {}): string {
  const config = configSchema.parse(raw);
  return renderEnvoy(config, compilePolicy(config, 'test.yaml'), 'test.yaml', { source: 'test.yaml', ...opts });
}

// The bootstrap is checked as data: loose records, narrowed by the assertions themselves.
export type Loose = any;

export interface Bootstrap {
  readonly doc: Loose;
  listener(name: string): Loose | undefined;
  /** The HttpConnectionManager config of a listener. */
  hcm(listener: string): Loose;
  routes(listener: string): Loose[];
  filters(listener: string): Loose[];
  cluster(name: string): Loose | undefined;
}

export function bootstrap(yaml: string): Bootstrap {
  const doc = parse(yaml) as Loose;
  const listener = (name: string) => doc.static_resources.listeners.find((l: Loose) => l.name === name);
  const hcm = (name: string) => listener(name).filter_chains[0].filters[0].typed_config;
  return {
    doc,
    listener,
    hcm,
    routes: (name) => hcm(name).route_config.virtual_hosts[0].routes,
    filters: (name) => hcm(name).http_filters,
    cluster: (name) => doc.static_resources.clusters.find((c: Loose) => c.name === name),
  };
}

/** `{name: value}` of a route's exact header matches. */
export function headerMatches(route: Loose): Record<string, string> {
  return Object.fromEntries((route.match.headers ?? []).map((h: Loose) => [h.name, h.string_match.exact]));
}

const EXTENSION_WITH_MATCHER = 'type.googleapis.com/envoy.extensions.common.matching.v3.ExtensionWithMatcher';

/**
 * The ExternalProcessor config of a rendered ext_proc filter entry: its own typed_config, or (sidecar mode) the one
 * inside the ExtensionWithMatcher that skips it for calls ext_authz finished.
 */
export function extProcConfig(filter: Loose): Loose {
  const typed = filter.typed_config;
  return typed['@type'] === EXTENSION_WITH_MATCHER ? typed.extension_config.typed_config : typed;
}

/** The matcher a sidecar ext_proc filter is wrapped in: skip on ext_authz's `exchange: done`, nothing else. */
export const SKIP_WHEN_FINISHED = {
  matcher_list: {
    matchers: [{
      predicate: {
        single_predicate: {
          input: {
            name: 'ext-authz-exchange',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.matching.common_inputs.network.v3.DynamicMetadataInput',
              filter: 'envoy.filters.http.ext_authz',
              path: [{ key: 'exchange' }],
            },
          },
          custom_match: {
            name: 'exchange-finished',
            typed_config: { '@type': 'type.googleapis.com/envoy.extensions.matching.input_matchers.metadata.v3.Metadata', value: { string_match: { exact: 'done' } } },
          },
        },
      },
      on_match: { action: { name: 'skip-ext-proc', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.common.matcher.action.v3.SkipFilter' } } },
    }],
  },
};

