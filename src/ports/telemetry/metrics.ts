// Prometheus series on the admin port: one registry per process, counters other modules may bump by name.
import type http from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { HANDOFF_FAILURES } from '../../core/session/handoff.js';
import type { OpenFailureReason } from '../../core/session/types.js';

export const METRICS_PATH = '/metrics';

/** Check decisions are sub-millisecond when the JWKS is cached; a remote JWKS fetch or a Redis round trip can take longer. */
const DECISION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** ext_proc phases include fan-out through Envoy (initialize, lists), so the tail reaches seconds. */
const PHASE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** A registry of its own, so tests that start several servers in one process never collide on names. */
export const registry = new Registry();

export const decisionsTotal = new Counter({
  name: 'toolgate_decisions_total',
  help: 'Authorization decisions by result (allow|deny), reason code, task and tool (bounded: unknown values are "other", absent ones "none").',
  labelNames: ['result', 'reason', 'task', 'tool'] as const,
  registers: [registry],
});

export const dryRunDenialsTotal = new Counter({
  name: 'toolgate_dry_run_denials_total',
  help: 'Calls forwarded in dry-run that the policy would have denied, by task, tool and would-be reason code (labels bounded as for decisions).',
  labelNames: ['task', 'tool', 'reason'] as const,
  registers: [registry],
});

export const checkDuration = new Histogram({
  name: 'toolgate_check_duration_seconds',
  help: 'Time to answer one ext_authz Check, by result (allow|deny).',
  labelNames: ['result'] as const,
  buckets: DECISION_BUCKETS,
  registers: [registry],
});

export const operationDuration = new Histogram({
  name: 'toolgate_mcp_server_operation_duration_seconds',
  help: 'Time toolgate took to decide one MCP request, by JSON-RPC method (after the OTel mcp.server.operation.duration metric).',
  labelNames: ['mcp_method_name'] as const,
  buckets: DECISION_BUCKETS,
  registers: [registry],
});

export const phaseDuration = new Histogram({
  name: 'toolgate_ext_proc_phase_duration_seconds',
  help: 'Time toolgate spent answering one ext_proc message, by phase.',
  labelNames: ['phase'] as const,
  buckets: PHASE_BUCKETS,
  registers: [registry],
});

export const activeStreams = new Gauge({
  name: 'toolgate_ext_proc_active_streams',
  help: 'ext_proc streams (one per HTTP exchange) open right now.',
  registers: [registry],
});

const storeErrors = new Counter({
  name: 'toolgate_store_errors_total',
  help: 'Failed calls to the shared store, by feature (quota, budget, revocation, loop, …).',
  labelNames: ['feature'] as const,
  registers: [registry],
});

const sessionRejections = new Counter({
  name: 'toolgate_session_rejections_total',
  help: 'Client session tokens refused (answered 404 so the client re-initializes), by reason.',
  labelNames: ['reason'] as const,
  registers: [registry],
});

const handoffRejections = new Counter({
  name: 'toolgate_handoff_rejections_total',
  help: 'ext_proc streams refused because the ext_authz handoff did not verify (forged, replayed, expired, unsigned), by reason.',
  labelNames: ['reason'] as const,
  registers: [registry],
});

const configReloads = new Counter({
  name: 'toolgate_config_reloads_total',
  help: 'Config file reloads, by result (success: the new config took effect; failure: the last good one stays).',
  labelNames: ['result'] as const,
  registers: [registry],
});

// Process metrics (CPU, memory, event loop lag, GC) under their standard names, so stock Node dashboards work.
collectDefaultMetrics({ register: registry });

// Known label values start at 0, so the series exist before the first event and `increase()` sees the first one.
const pinChanges = new Counter({
  name: 'toolgate_pin_changes_total',
  help: 'List items whose definition differs from the approved one (pins), by backend, kind (tools|prompts|resourceTemplates) and action (hidden|observed|unpinned).',
  labelNames: ['backend', 'kind', 'action'] as const,
  registers: [registry],
});

for (const feature of ['quota', 'budget', 'loop', 'revocation', 'pins']) storeErrors.inc({ feature }, 0);
for (const reason of ['malformed', 'unknown-key', 'tampered', 'expired', 'wrong-subject'] satisfies OpenFailureReason[]) sessionRejections.inc({ reason }, 0);
for (const result of ['success', 'failure']) configReloads.inc({ result }, 0);
for (const reason of HANDOFF_FAILURES) handoffRejections.inc({ reason }, 0);

/** For the store code: one failed call to the shared store. `feature` must come from a fixed set. */
export function countStoreError(feature: string): void {
  storeErrors.inc({ feature });
}

/** For the session code: one client token refused; `reason` is an `OpenFailureReason` (or another fixed code). */
export function countSessionRejection(reason: string): void {
  sessionRejections.inc({ reason });
}

/** For the ext_proc adapter: one stream refused; `reason` is a `HandoffFailure`. */
export function countHandoffRejection(reason: string): void {
  handoffRejections.inc({ reason });
}

/** For the pins code: one changed (or unpinned) list item seen; backend names come from the config, kinds and actions from fixed sets. */
export function countPinChange(backend: string, kind: string, action: 'hidden' | 'observed' | 'unpinned'): void {
  pinChanges.inc({ backend, kind, action });
}

export function countConfigReload(result: 'success' | 'failure'): void {
  configReloads.inc({ result });
}

/** The `/metrics` route for the admin server's `extra` hook. */
export function metricsRoute(): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> {
  return async (req, res) => {
    if (req.method !== 'GET' || new URL(req.url ?? '/', 'http://admin').pathname !== METRICS_PATH) return false;
    try {
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType }).end(text);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics collection failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    return true;
  };
}
