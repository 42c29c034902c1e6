// The benchmark's native floor bootstrap (g), derived from the checked-in rendered sidecar file: no toolgate filter
// or placeholder use left, Envoy's MCP filter and an RBAC allow-list before the router.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { NATIVE_OPEN_METHODS, nativeFloorOf, variantOf } from '../../bench/load/bootstrap.js';

const rendered = readFileSync(join(import.meta.dirname, '..', '..', 'envoy', 'sidecar.yaml'), 'utf8');
type Json = Record<string, any>;
const hcm = (text: string): Json => {
  const doc = parse(text) as Json;
  const listener = (doc.static_resources.listeners as Json[]).find((l) => l.name === 'mcp') as Json;
  return listener.filter_chains[0].filters[0].typed_config;
};

describe('nativeFloorOf', () => {
  const native = hcm(nativeFloorOf(rendered));
  const names = (native.http_filters as Json[]).map((f) => f.name);

  it("runs Envoy's MCP filter, then RBAC, then the router, and no toolgate filter", () => {
    expect(names).toEqual([...hcm(variantOf(rendered, 'router')).http_filters.map((f: Json) => f.name).slice(0, -1), 'envoy.filters.http.mcp', 'envoy.filters.http.rbac', 'envoy.filters.http.router']);
    expect(names).not.toContain('envoy.filters.http.ext_authz');
    expect(names).not.toContain('envoy.filters.http.ext_proc');
    const mcp = (native.http_filters as Json[]).find((f) => f.name === 'envoy.filters.http.mcp') as Json;
    expect(mcp.disabled).toBeUndefined();
    expect(mcp.typed_config).toMatchObject({ traffic_mode: 'REJECT_NO_MCP', reject_duplicate_keys: true });
  });

  it('allows the open methods for anyone and tools/call only for the listed tools, matched on the MCP metadata', () => {
    const rbac = (native.http_filters as Json[]).find((f) => f.name === 'envoy.filters.http.rbac') as Json;
    const { action, policies } = rbac.typed_config.rules;
    expect(action).toBe('ALLOW');
    const open = policies['mcp-open-methods'].permissions[0].or_rules.rules.map((r: Json) => r.metadata.value.string_match.exact);
    expect(open).toEqual(NATIVE_OPEN_METHODS);
    const [method, tool] = policies['allowed-tools'].permissions[0].and_rules.rules;
    expect(method.metadata).toEqual({ filter: 'envoy.filters.http.mcp', path: [{ key: 'method' }], value: { string_match: { exact: 'tools/call' } } });
    expect(tool.metadata).toEqual({ filter: 'envoy.filters.http.mcp', path: [{ key: 'params' }, { key: 'name' }], value: { string_match: { exact: 'echo' } } });
    const two = hcm(nativeFloorOf(rendered, ['echo', 'add']));
    const rules = (two.http_filters as Json[]).find((f) => f.name === 'envoy.filters.http.rbac')!.typed_config.rules.policies['allowed-tools'].permissions[0].and_rules.rules[1].or_rules.rules;
    expect(rules.map((r: Json) => r.metadata.value.string_match.exact)).toEqual(['echo', 'add']);
  });

  it('keeps no per-route toolgate or MCP filter settings', () => {
    const perRoute = (native.route_config.virtual_hosts as Json[]).flatMap((h) => (h.routes as Json[]).flatMap((r) => Object.keys(r.typed_per_filter_config ?? {})));
    expect(perRoute.filter((n) => /ext_authz|ext_proc|mcp/.test(n))).toEqual([]);
  });
});
