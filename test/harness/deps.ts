// The explicit dependencies the request stages take, for tests that call them directly: a store they choose, fresh metrics.
import type { Deps } from '../../src/ports/deps.js';
import type { Store } from '../../src/ports/store/port.js';
import { createMetrics } from '../../src/ports/telemetry/metrics.js';

/** `store` is required on purpose: which store a stage counts in is what the test decides, never a default. */
export function depsOf(store: Store): Deps {
  return { store, metrics: createMetrics() };
}
