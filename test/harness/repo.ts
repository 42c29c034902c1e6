// Where the repository is, for tests that read its files; no process is started from here (test/unit may import it).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The pinned Envoy version (envoy/VERSION, read by scripts/install-envoy.mjs too). */
export const ENVOY_VERSION = readFileSync(join(REPO_ROOT, 'envoy', 'VERSION'), 'utf8').trim();
