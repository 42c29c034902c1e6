// What `toolgate pins` prints: the digests of the definitions a client is shown, per backend, in config syntax.
import { stringify } from 'yaml';
import type { ParsedConfig } from '../config/schema.js';
import { compileNaming, resolveExposed } from '../mcp/names.js';
import { definitionDigest, PIN_KEY, type PinKind } from './digest.js';

/** What a client listed through Envoy, kind by kind (names as the client sees them). */
export type Listed = Readonly<Record<PinKind, ReadonlyArray<Readonly<Record<string, unknown>>>>>;

type Digests = Record<PinKind, Record<string, string>>;

export interface PinReport {
  /** Backend → kind → backend's own name (uriTemplate) → digest. `backendPins` when the config names no backend. */
  readonly backends: ReadonlyMap<string, Digests>;
  /** Items whose backend the client-facing name does not tell (a bare name several backends may show, a gateway's template). */
  readonly unplaced: ReadonlyArray<{ readonly kind: PinKind; readonly key: string; readonly digest: string; readonly candidates: readonly string[] }>;
}

const empty = (): Digests => ({ tools: {}, prompts: {}, resourceTemplates: {} });

export function pinReport(config: ParsedConfig, listed: Listed): PinReport {
  const names = Object.keys(config.backends);
  const backends = new Map<string, Digests>();
  const unplaced: Array<PinReport['unplaced'][number]> = [];
  const put = (backend: string, kind: PinKind, key: string, digest: string) => {
    let d = backends.get(backend);
    if (d === undefined) backends.set(backend, (d = empty()));
    d[kind][key] = digest;
  };
  const naming = names.length > 1 ? compileNaming(config.backends) : undefined;
  const bare = naming ? [...naming.backends].filter(([, n]) => n.mode !== 'always').map(([b]) => b) : [];
  for (const kind of ['tools', 'prompts', 'resourceTemplates'] as const) {
    for (const item of listed[kind]) {
      const shown = item[PIN_KEY[kind]];
      if (typeof shown !== 'string') continue;
      if (naming === undefined) {
        put(names[0] ?? '', kind, shown, definitionDigest(kind, item));
        continue;
      }
      // A template keeps its uriTemplate in gateway mode: nothing in it names its backend.
      const ref = kind === 'resourceTemplates' ? undefined : resolveExposed(shown, naming);
      if (ref) put(ref.backend, kind, ref.name, definitionDigest(kind, item, ref.name));
      else if (kind !== 'resourceTemplates' && bare.length === 1 && bare[0] !== undefined) put(bare[0], kind, shown, definitionDigest(kind, item));
      else unplaced.push({ kind, key: shown, digest: definitionDigest(kind, item, shown), candidates: kind === 'resourceTemplates' ? names : bare });
    }
  }
  return { backends, unplaced };
}

/** The report as YAML to paste into the config: `backends.<name>.pins` (or `backendPins`), keeping each backend's mode. */
export function renderPinReport(config: ParsedConfig, report: PinReport, source: string): string {
  const modeOf = (pins: ParsedConfig['backendPins']) => (pins === undefined || pins.mode === 'off' ? 'enforce' : pins.mode);
  const section = (pins: ParsedConfig['backendPins'], d: Digests) => {
    const out: Record<string, unknown> = { mode: modeOf(pins) };
    if (pins?.unpinned === 'refuse') out.unpinned = 'refuse';
    for (const kind of ['tools', 'prompts', 'resourceTemplates'] as const) if (Object.keys(d[kind]).length > 0) out[kind] = sortedRecord(d[kind]);
    return out;
  };
  const lines = [`# Digests of the definitions ${source} lists now (toolgate pins); paste into the config to approve exactly these.`];
  let doc: Record<string, unknown>;
  if (Object.keys(config.backends).length === 0) {
    doc = { backendPins: section(config.backendPins, report.backends.get('') ?? empty()) };
  } else {
    const backends: Record<string, unknown> = {};
    for (const name of [...report.backends.keys()].sort()) backends[name] = { pins: section(config.backends[name]?.pins, report.backends.get(name) ?? empty()) };
    lines.push('# Under each backend, next to its cluster and other fields.');
    doc = { backends };
  }
  let text = `${lines.join('\n')}\n${stringify(doc)}`;
  if (report.unplaced.length > 0) {
    text += '# Not placed: the name a client sees does not tell which backend serves it. Put each under its backend.\n';
    for (const u of report.unplaced) text += `#   ${u.kind}: ${JSON.stringify(u.key)}: ${u.digest}   (one of: ${u.candidates.join(', ')})\n`;
  }
  return text;
}

function sortedRecord(record: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
