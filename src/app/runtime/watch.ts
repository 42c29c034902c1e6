// Hot reload: a changed config file replaces the runtime only when it is valid; otherwise the last good one stays.
import { watch, watchFile, unwatchFile, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from '../../core/config/errors.js';
import { loadConfigFile } from './load.js';
import type { Runtime, RuntimeHolder } from '../../core/runtime.js';
import type { Metrics } from '../../ports/telemetry/metrics.js';

export type { RuntimeHolder } from '../../core/runtime.js';

/** `metrics` counts reloads by result; they are the app's, kept across reloads like the store. */
export function holdRuntime(initial: Runtime, log: Logger, metrics: Metrics, options: { watch: boolean; pollMs?: number } = { watch: true }): RuntimeHolder {
  let runtime = initial;
  const listeners: Array<(r: Runtime) => void> = [];
  let watcher: FSWatcher | undefined;
  let pending: NodeJS.Timeout | undefined;
  const file = path.resolve(initial.file);

  const reload = (): boolean => {
    try {
      const next = loadConfigFile(initial.file, runtime.version + 1, runtime);
      runtime = next;
      metrics.countConfigReload('success');
      log.info({ event: 'config.reloaded', file: initial.file, version: next.version }, 'config reloaded');
      for (const l of listeners) l(next);
      return true;
    } catch (err) {
      metrics.countConfigReload('failure');
      const issues = err instanceof ConfigError ? err.issues : [{ path: '', message: String(err) }];
      log.error({ event: 'config.rejected', file: initial.file, issues, keptVersion: runtime.version }, 'config change rejected; keeping the last good config');
      return false;
    }
  };

  // Editors and Kubernetes ConfigMaps replace files by rename; watching the folder and polling the file covers both.
  const schedule = () => {
    if (pending) clearTimeout(pending);
    pending = setTimeout(() => { pending = undefined; reload(); }, 100);
  };
  if (options.watch) {
    try {
      watcher = watch(path.dirname(file), (_event, name) => {
        if (!name || path.basename(file) === name.toString() || name.toString().startsWith('..')) schedule();
      });
      watcher.on('error', () => undefined);
    } catch {
      watcher = undefined;
    }
    watchFile(file, { interval: options.pollMs ?? 1000 }, (curr, prev) => {
      if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size) schedule();
    });
  }

  return {
    current: () => runtime,
    reload,
    onChange: (l) => void listeners.push(l),
    close() {
      if (pending) clearTimeout(pending);
      watcher?.close();
      unwatchFile(file);
    },
  };
}
