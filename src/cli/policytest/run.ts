// Runs policy test cases through the same authorize() that serves Envoy's Check, with a fresh in-memory store per case.
import { pino } from 'pino';
import type { Runtime } from '../../core/runtime.js';
import { authorize, type AuthzInput } from '../../pipeline/authz/authorize.js';
import type { AuthzOutcome } from '../../pipeline/authz/outcome.js';
import type { Trace } from '../../core/policy/trace.js';
import { judgeList } from '../../pipeline/pins/judge.js';
import { soleBackendName } from '../../core/pins/settings.js';
import { createMemoryStore } from '../../ports/store/memory.js';
import type { Deps } from '../../ports/deps.js';
import { createMetrics } from '../../ports/telemetry/metrics.js';
import { stepsOf, type Expectation, type Listed, type TestCase, type TestRequest } from './cases.js';
import type { TestIdentity } from './identity.js';

/** What one call came to, in the words of an expectation. */
export interface Observed {
  readonly decision: 'allow' | 'deny';
  readonly reason: string;
  /** Dry-run: the denial the call would have got. */
  readonly wouldDeny: string | undefined;
  readonly policy: string | undefined;
  readonly status: number;
  /** What the agent (or the audit, for an allow) is told. */
  readonly message: string | undefined;
}

export interface StepResult {
  /** 1-based position among the case's calls (a step with `times: 3` is three calls). */
  readonly call: number;
  readonly expected: Expectation;
  readonly observed: Observed;
  readonly pass: boolean;
  readonly trace: Trace;
}

export interface CaseResult {
  readonly name: string;
  readonly pass: boolean;
  /** Every call up to and including the first that failed. */
  readonly calls: readonly StepResult[];
}

export async function runCase(runtime: Runtime, identity: TestIdentity, c: TestCase): Promise<CaseResult> {
  const store = createMemoryStore();
  // A case's own store and metrics: no case sees another's counters (the metrics are never read here).
  const deps: Deps = { store, metrics: createMetrics() };
  const calls: StepResult[] = [];
  try {
    const token = c.token ?? (c.claims ? await identity.mint(c.claims) : undefined);
    // A real token is verified with the config's own key set; minted ones with the test key only.
    const judge = c.token ? runtime : identity.runtime;
    for (const list of c.listed ?? []) await judgeListed(judge, deps, list);
    for (const step of stepsOf(c)) {
      for (let i = 0; i < step.times; i += 1) {
        const trace: Trace = [];
        const input = inputOf(judge, c, step.request ?? c.request, { ...c.headers, ...step.headers }, token);
        const observed = observe(await authorize(judge, input, deps, trace));
        const pass = matches(step.expect, observed);
        calls.push({ call: calls.length + 1, expected: step.expect, observed, pass, trace });
        if (!pass) return { name: c.name, pass: false, calls };
      }
    }
    return { name: c.name, pass: true, calls };
  } finally {
    await store.close();
  }
}

const QUIET = pino({ level: 'silent' });
const PIN_KINDS = ['tools', 'prompts', 'resourceTemplates'] as const;

/** A case's `listed` entry, judged by the same code ext_proc runs on a list answer, into the case's store. */
async function judgeListed(runtime: Runtime, deps: Deps, list: Listed): Promise<void> {
  const backends = Object.keys(runtime.config.backends);
  const backend = list.backend ?? (backends.length === 0 ? soleBackendName() : undefined);
  if (backend === undefined) throw new CaseError(`listed: name the backend that listed these (one of ${backends.join(', ')})`);
  if (!runtime.pins.backends.has(backend)) {
    throw new CaseError(`listed: ${backends.length === 0 ? 'the backend' : `backend "${backend}"`} has pins off in the config, so its lists are not judged`);
  }
  for (const kind of PIN_KINDS) {
    const items = list[kind];
    if (items !== undefined) await judgeList(runtime.pins, deps, QUIET, backend, kind, items);
  }
}

/** A case the config cannot run as written (not a policy mismatch). */
export class CaseError extends Error {}

/** The request as Envoy would hand it to Check: Host of the resource, JSON body bytes, the bearer token. */
export function inputOf(runtime: Runtime, c: TestCase, request: TestRequest | undefined, headers: Readonly<Record<string, string>>, token: string | undefined): AuthzInput {
  const resource = new URL(runtime.config.resource);
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const body = request === undefined ? undefined : Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, ...request }), 'utf8');
  return {
    method: c.http.method.toUpperCase(),
    path: c.http.path ?? resource.pathname,
    headers: {
      host: resource.host,
      // What an MCP client sends on every POST, with or without the body reaching toolgate (2026 header-only routes).
      ...(c.http.method.toUpperCase() === 'POST' ? { 'content-type': 'application/json', accept: 'application/json, text/event-stream' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...lower,
    },
    body,
  };
}

export function observe(outcome: AuthzOutcome): Observed {
  const audit = outcome.audit;
  if (outcome.kind === 'allow') {
    return { decision: 'allow', reason: outcome.audit.reason, wouldDeny: audit?.dryRun?.reason, policy: audit?.dryRun?.policy, status: 200, message: audit?.dryRun?.message };
  }
  return { decision: 'deny', reason: audit?.reason ?? 'none', wouldDeny: undefined, policy: audit?.policy, status: outcome.reply.status, message: replyText(outcome.reply.body) };
}

export function matches(expected: Expectation, observed: Observed): boolean {
  if (expected === 'allow') return observed.decision === 'allow' && observed.wouldDeny === undefined;
  if (expected === 'deny') return observed.decision === 'deny';
  if ('deny' in expected) return observed.decision === 'deny' && observed.reason === expected.deny;
  return observed.decision === 'allow' && observed.wouldDeny === expected.wouldDeny;
}

export function describeObserved(o: Observed): string {
  if (o.decision === 'allow') return o.wouldDeny ? `dry-run, would deny ${o.wouldDeny}` : `allow (${o.reason})`;
  return `deny ${o.reason} (HTTP ${o.status})`;
}

/** The sentence the agent reads: a tool result's text, a JSON-RPC error's message, or the body itself. */
function replyText(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { result?: { content?: Array<{ text?: unknown }> }; error?: { message?: unknown } };
    const text = parsed.result?.content?.[0]?.text ?? parsed.error?.message;
    return typeof text === 'string' ? text : body;
  } catch {
    return body === '' ? undefined : body;
  }
}
