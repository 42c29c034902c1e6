// What the request stages write to outside themselves, handed in explicitly: no stage has a default or a module-level one.
import type { Store } from './store/port.js';
import type { Metrics } from './telemetry/metrics.js';

/**
 * Opened once per app (serve()) and kept across config reloads: the shared store (quotas, budgets, revocations,
 * pins) and the metrics registry. What belongs to one config version lives on the `Runtime` instead.
 */
export interface Deps {
  readonly store: Store;
  readonly metrics: Metrics;
}
