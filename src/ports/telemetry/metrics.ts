// Prometheus series on the admin port: one `Metrics` per app (serve()), with its own registry, passed to whoever counts.
import type http from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { HANDOFF_FAILURES } from '../../core/session/handoff.js';
import type { OpenFailureReason } from '../../core/session/types.js';

export const METRICS_PATH = '/metrics';

/** Check decisions are sub-millisecond when the JWKS is cached; a remote JWKS fetch or a Redis round trip can take longer. */
const DECISION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** ext_proc phases include fan-out through Envoy (initialize, lists), so the tail reaches seconds. */
const PHASE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * Every series toolgate exposes, on a registry of its own (never prom-client's global one): two apps in one process
 * (tests start several) count apart, and nothing counts unless it was handed this object.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly decisionsTotal: Counter<'result' | 'reason' | 'task' | 'tool'>;
  readonly dryRunDenialsTotal: Counter<'task' | 'tool' | 'reason'>;
  readonly checkDuration: Histogram<'result'>;
  readonly operationDuration: Histogram<'mcp_method_name'>;
  readonly phaseDuration: Histogram<'phase'>;
  readonly activeStreams: Gauge;
  /** For the store code: one failed call to the shared store. `feature` must come from a fixed set. */
  countStoreError(feature: string): void;
  /** For the session code: one client token refused; `reason` is an `OpenFailureReason` (or another fixed code). */
  countSessionRejection(reason: string): void;
  /** For the ext_proc adapter: one stream refused; `reason` is a `HandoffFailure`. */
  countHandoffRejection(reason: string): void;
  /** For the pins code: one changed (or unpinned) list item seen; backend names come from the config, kinds and actions from fixed sets. */
  countPinChange(backend: string, kind: string, action: 'hidden' | 'observed' | 'unpinned'): void;
  countConfigReload(result: 'success' | 'failure'): void;
}

export interface MetricsOptions {
  /**
   * Also the Node process series (CPU, memory, event loop lag, GC) under their standard names, so stock dashboards
   * work. serve() asks for them; tests and `toolgate test` leave them off (each set starts its own event-loop monitor).
   */
  readonly process?: boolean;
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const decisionsTotal = new Counter({
    name: 'toolgate_decisions_total',
    help: 'Authorization decisions by result (allow|deny), reason code, task and tool (bounded: unknown values are "other", absent ones "none").',
    labelNames: ['result', 'reason', 'task', 'tool'] as const,
    registers,
  });
  const dryRunDenialsTotal = new Counter({
    name: 'toolgate_dry_run_denials_total',
    help: 'Calls forwarded in dry-run that the policy would have denied, by task, tool and would-be reason code (labels bounded as for decisions).',
    labelNames: ['task', 'tool', 'reason'] as const,
    registers,
  });
  const checkDuration = new Histogram({
    name: 'toolgate_check_duration_seconds',
    help: 'Time to answer one ext_authz Check, by result (allow|deny).',
    labelNames: ['result'] as const,
    buckets: DECISION_BUCKETS,
    registers,
  });
  const operationDuration = new Histogram({
    name: 'toolgate_mcp_server_operation_duration_seconds',
    help: 'Time toolgate took to decide one MCP request, by JSON-RPC method (after the OTel mcp.server.operation.duration metric).',
    labelNames: ['mcp_method_name'] as const,
    buckets: DECISION_BUCKETS,
    registers,
  });
  const phaseDuration = new Histogram({
    name: 'toolgate_ext_proc_phase_duration_seconds',
    help: 'Time toolgate spent answering one ext_proc message, by phase.',
    labelNames: ['phase'] as const,
    buckets: PHASE_BUCKETS,
    registers,
  });
  const activeStreams = new Gauge({
    name: 'toolgate_ext_proc_active_streams',
    help: 'ext_proc streams (one per HTTP exchange) open right now.',
    registers,
  });
  const storeErrors = new Counter({
    name: 'toolgate_store_errors_total',
    help: 'Failed calls to the shared store, by feature (quota, budget, revocation, loop, …).',
    labelNames: ['feature'] as const,
    registers,
  });
  const sessionRejections = new Counter({
    name: 'toolgate_session_rejections_total',
    help: 'Client session tokens refused (answered 404 so the client re-initializes), by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const handoffRejections = new Counter({
    name: 'toolgate_handoff_rejections_total',
    help: 'ext_proc streams refused because the ext_authz handoff did not verify (forged, replayed, expired, unsigned), by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const configReloads = new Counter({
    name: 'toolgate_config_reloads_total',
    help: 'Config file reloads, by result (success: the new config took effect; failure: the last good one stays).',
    labelNames: ['result'] as const,
    registers,
  });
  if (options.process) collectDefaultMetrics({ register: registry });
  const pinChanges = new Counter({
    name: 'toolgate_pin_changes_total',
    help: 'List items whose definition differs from the approved one (pins), by backend, kind (tools|prompts|resourceTemplates) and action (hidden|observed|unpinned).',
    labelNames: ['backend', 'kind', 'action'] as const,
    registers,
  });

  // Known label values start at 0, so the series exist before the first event and `increase()` sees the first one.
  for (const feature of ['quota', 'budget', 'loop', 'revocation', 'pins']) storeErrors.inc({ feature }, 0);
  for (const reason of ['malformed', 'unknown-key', 'tampered', 'expired', 'wrong-subject'] satisfies OpenFailureReason[]) sessionRejections.inc({ reason }, 0);
  for (const result of ['success', 'failure']) configReloads.inc({ result }, 0);
  for (const reason of HANDOFF_FAILURES) handoffRejections.inc({ reason }, 0);

  return Object.freeze({
    registry,
    decisionsTotal,
    dryRunDenialsTotal,
    checkDuration,
    operationDuration,
    phaseDuration,
    activeStreams,
    countStoreError: (feature: string) => storeErrors.inc({ feature }),
    countSessionRejection: (reason: string) => sessionRejections.inc({ reason }),
    countHandoffRejection: (reason: string) => handoffRejections.inc({ reason }),
    countPinChange: (backend: string, kind: string, action: 'hidden' | 'observed' | 'unpinned') => pinChanges.inc({ backend, kind, action }),
    countConfigReload: (result: 'success' | 'failure') => configReloads.inc({ result }),
  });
}

/** The `/metrics` route for the admin server's `extra` hook: serves this app's registry. */
export function metricsRoute(registry: Registry): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> {
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
