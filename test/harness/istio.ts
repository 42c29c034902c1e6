// Shared by the Istio tests: the checked-in manifests under istio/, read as files and as parsed documents.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { renderIstioFile, type RenderedFiles } from '../../src/cli/render/istio.js';
import { REPO_ROOT } from './repo.js';

export const ISTIO_DIR = join(REPO_ROOT, 'istio');
export const PATTERNS = ['sidecar', 'gateway'] as const;
export type Pattern = (typeof PATTERNS)[number];

// Manifests are checked as data: loose records, narrowed by the assertions themselves.
export type Loose = any;

/** What `npm run render` writes for an example: base/ comes from the sidecar example, each overlay from its own. */
export function renderPattern(pattern: Pattern): RenderedFiles {
  return renderIstioFile(join(REPO_ROOT, 'examples', `${pattern}.yaml`), { source: `examples/${pattern}.yaml` });
}

/** Every file under istio/ (slash-separated, relative), README files and the istioctl pin excluded. */
export function checkedInFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (!/^README/i.test(entry.name) && entry.name !== 'ISTIOCTL_VERSION') out.push(relative(ISTIO_DIR, path).split(sep).join('/'));
    }
  };
  walk(ISTIO_DIR);
  return out.sort();
}

export function readIstio(path: string): string {
  return readFileSync(join(ISTIO_DIR, path), 'utf8');
}

export interface Manifest {
  readonly file: string;
  readonly doc: Loose;
}

/** Every YAML document of every checked-in file, with the file it came from. */
export function manifests(dir?: string): Manifest[] {
  return checkedInFiles()
    .filter((file) => dir === undefined || file.startsWith(`${dir}/`))
    .flatMap((file) => parseAllDocuments(readIstio(file)).map((d) => {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]?.message}`);
      return { file, doc: d.toJS() as Loose };
    }));
}

export function only(list: readonly Manifest[], kind: string, dir?: string): Loose {
  const found = list.filter((m) => m.doc?.kind === kind && (dir === undefined || m.file.startsWith(`${dir}/`)));
  if (found.length !== 1) throw new Error(`expected one ${kind}${dir ? ` in ${dir}/` : ''}, found ${found.length}`);
  return (found[0] as Manifest).doc;
}
