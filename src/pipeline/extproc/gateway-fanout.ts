// Gateway requests answered by asking every backend through Envoy's egress listener and merging the answers.
import type { Logger } from 'pino';
import { fanOut, type CallOptions, type EgressFailure, type RequestSuccess } from '../fanout/egress.js';
import { mergeAnswers } from '../fanout/answers.js';
import { mergeInitialize, mergePromptsList, mergeResourcesList, mergeResourceTemplatesList, mergeToolsList } from '../fanout/merge.js';
import { listAllPages, type ListMethod } from '../fanout/pages.js';
import { compileTemplateIndex } from '../fanout/templates.js';
import { isStatelessProtocol, type McpCall } from '../../core/mcp/message.js';
import { requestEnvelope } from '../../core/mcp/protocol.js';
import { withCacheHints, withResultType } from '../../core/mcp/replies.js';
import { newTokenId, sealSession } from '../../core/session/token.js';
import { capabilitiesFromServer, clientCapabilitiesOf, hasCapability, type BackendEntry, type Session } from '../../core/session/types.js';
import type { Store } from '../../ports/store/port.js';
import type { Deps } from '../../ports/deps.js';
import type { AuthzContext, Step } from './exchange.js';
import { AFFINITY_HEADER, type GatewayContext } from './gateway-context.js';
import { visibleFor } from './lists.js';
import { accepted, errorReply, jsonReply, resultReply, sessionNotFound } from './replies.js';
import { revokeSession } from './revocation.js';
import { hiddenItems, hiddenRef } from './gateway-pins.js';

export const GATEWAY_INFO = { name: 'toolgate', version: '0.1.0' };

/**
 * Per-backend call options for this client session (its own session id, its negotiated version, its affinity). On
 * 2026-07-28, `clientMeta` (the client's request `_meta`) gives each backend the client's envelope.
 */
export function callOptions(ctx: GatewayContext, backend: string, session: Pick<Session, 'backends' | 'tokenId'> | undefined, protocolVersion: string | undefined, clientMeta?: unknown): CallOptions {
  const entry = session?.backends.get(backend);
  const path = ctx.runtime.config.backends[backend]?.path;
  const stateless = entry === undefined && protocolVersion !== undefined && isStatelessProtocol(protocolVersion);
  return {
    ...(stateless ? { envelope: requestEnvelope(protocolVersion, clientMeta) } : {}),
    ...(session ? { headers: { [AFFINITY_HEADER]: session.tokenId } } : {}),
    ...(entry?.sessionId ? { sessionId: entry.sessionId } : {}),
    ...(entry?.protocolVersion || protocolVersion ? { protocolVersion: entry?.protocolVersion || protocolVersion } : {}),
    ...(path ? { path } : {}),
  };
}

/** The backends a request fans out to: the session's (2025) or all configured ones (2026, stateless). */
export function targets(ctx: GatewayContext, session: Session | undefined): string[] {
  return session ? ctx.backends.filter((b) => session.backends.has(b)) : [...ctx.backends];
}

/**
 * Opens a session on every backend and seals them into a new token. `replaces` is the session the client presented
 * with this initialize: once the new one exists, the old token is revoked and its backend sessions are ended, so
 * none is left open that no token reaches.
 */
export async function initialize(ctx: GatewayContext, call: McpCall, authz: AuthzContext, log: Logger, replaces?: { session: Session; store: Store }): Promise<Step> {
  const requested = typeof call.params.protocolVersion === 'string' ? call.params.protocolVersion : '2025-06-18';
  const tokenId = newTokenId();
  const pending = { tokenId, backends: new Map<string, BackendEntry>() };
  const initializeOne = (b: string) =>
    ctx.egress.request(b, { method: 'initialize', params: call.params, id: 'toolgate-init' }, callOptions(ctx, b, pending, requested));
  const results = await fanOut(ctx.backends, initializeOne);
  // One more try for backends that could not be reached: a replica Envoy has not ejected yet often answers
  // the first attempt with a 503, and leaving the backend out would cost the client a whole re-initialize later.
  const unreachable = [...results.failed].filter(([, f]) => f.error === 'network' || f.error === 'timeout' || (f.error === 'http-status' && (f.status ?? 0) >= 502));
  if (unreachable.length > 0) {
    const again = await fanOut(unreachable.map(([b]) => b), initializeOne);
    for (const [b, res] of again.ok) {
      results.failed.delete(b);
      results.ok.set(b, res);
    }
  }
  const backends = pending.backends;
  const answers = new Map<string, Record<string, unknown>>();
  for (const [b, res] of results.ok) {
    if ('error' in res.message) {
      log.warn({ event: 'initialize.backend-error', backend: b, error: res.message.error.message }, 'backend refused initialize; left out of the session');
      continue;
    }
    answers.set(b, res.message.result);
    const version = typeof res.message.result.protocolVersion === 'string' ? res.message.result.protocolVersion : requested;
    backends.set(b, { sessionId: res.sessionId, protocolVersion: version, capabilities: capabilitiesFromServer(res.message.result.capabilities) });
  }
  for (const [b, f] of results.failed) {
    log.warn({ event: 'initialize.backend-failed', backend: b, error: f.error, detail: f.detail }, 'backend failed initialize; left out of the session');
  }
  if (backends.size === 0) {
    return errorReply(call.id, 'backend-unavailable', `No backend could be initialized (${[...results.failed.keys()].join(', ') || 'all refused'}). Try again later.`);
  }
  const version = [...backends.values()][0]?.protocolVersion ?? requested;
  const merged = mergeInitialize(answers, GATEWAY_INFO, version);
  const clientCapabilities = clientCapabilitiesOf(call.params.capabilities);
  const token = await sealSession(ctx.runtime.sessions.keyring, { subject: authz.subject as string, backends, clientCapabilities }, { ttlSeconds: ctx.runtime.sessions.ttlSeconds, tokenId });
  if (replaces) await endSession(ctx, replaces.session, log, replaces.store);
  return resultReply(call.id, merged, { 'mcp-session-id': token });
}

export async function notifyAll(ctx: GatewayContext, call: McpCall, session: Session | undefined, protocolVersion: string | undefined): Promise<Step> {
  await fanOut(targets(ctx, session), (b) =>
    ctx.egress.notify(b, { method: call.method, params: call.params }, callOptions(ctx, b, session, protocolVersion, call.params._meta)),
  );
  return accepted();
}

/**
 * `logging/setLevel` to every backend of the session that announced `logging` (all of them when stateless: no
 * capabilities known); the answer is the backends' (see `mergeAnswers`): an error when none accepted the level.
 */
export async function setLevelAll(ctx: GatewayContext, call: McpCall, session: Session | undefined, protocolVersion: string | undefined, log: Logger): Promise<Step> {
  const backends = targets(ctx, session).filter((b) => {
    const entry = session?.backends.get(b);
    return entry === undefined || hasCapability(entry.capabilities, 'logging');
  });
  if (backends.length === 0) {
    return errorReply(call.id, 'capability-not-offered', `No backend of this session offers logging, so there is no level to set (backends: ${targets(ctx, session).join(', ')}).`);
  }
  const results = await fanOut(backends, (b) =>
    ctx.egress.request(b, { method: call.method, params: call.params, id: 'toolgate-fan' }, callOptions(ctx, b, session, protocolVersion, call.params._meta)),
  );
  const merged = mergeAnswers(call.method, new Map<string, RequestSuccess | EgressFailure>([...results.ok, ...results.failed]));
  switch (merged.kind) {
    case 'session-expired':
      return sessionNotFound();
    case 'error':
      return jsonReply(merged.status, { jsonrpc: '2.0', id: call.id ?? null, error: { code: merged.code, message: merged.message, ...(merged.data === undefined ? {} : { data: merged.data }) } });
    case 'result':
      for (const [backend, what] of merged.refused) log.warn({ event: 'fanout.backend-refused', method: call.method, backend, detail: what }, 'backend did not take the request; the others did');
      return resultReply(call.id, withResultType(merged.result, isStatelessProtocol(protocolVersion)));
  }
}

export async function deleteAll(ctx: GatewayContext, session: Session, log: Logger, store: Store): Promise<Step> {
  await endSession(ctx, session, log, store);
  return { kind: 'immediate', status: 200, headers: {}, body: '' };
}

/** Revokes a session's token and DELETEs its backend sessions; failures are logged, never thrown. */
async function endSession(ctx: GatewayContext, session: Session, log: Logger, store: Store): Promise<void> {
  // Revoked first, so no replica serves the ending session while the backends are being told.
  await revokeSession(store, session, log);
  const results = await fanOut(targets(ctx, session), (b) => {
    const sid = session.backends.get(b)?.sessionId;
    // With the session's affinity key, or Envoy's ring hash sends the DELETE to a replica that never had the session.
    return sid ? ctx.egress.deleteSession(b, sid, callOptions(ctx, b, session, session.backends.get(b)?.protocolVersion)) : Promise.resolve({ ok: true as const, status: 204 });
  });
  for (const [b, f] of results.failed) log.warn({ event: 'delete.backend-failed', backend: b, error: f.error }, 'backend session not ended');
}

/** `deps.store` holds learned pins and changed marks (src/core/pins). */
export async function list(ctx: GatewayContext, call: McpCall, method: ListMethod, authz: AuthzContext, session: Session | undefined, protocolVersion: string | undefined, log: Logger, deps: Deps): Promise<Step> {
  const results = await fanOut(targets(ctx, session), (b) => listAllPages(ctx.egress, b, method, callOptions(ctx, b, session, protocolVersion, call.params._meta), ctx.listIds));
  // A 2026-07-28 client gets resultType and the cache hints its revision requires; a 2025 one byte for byte as before.
  const shape = <T extends object>(result: T) => withCacheHints(result, isStatelessProtocol(protocolVersion));
  for (const [b, f] of results.failed) log.warn({ event: 'list.backend-failed', method, backend: b, error: f.error, detail: f.detail }, 'backend left out of list');
  const expired = [...results.failed.values()].filter((f) => f.error === 'session-expired');
  if (results.ok.size === 0 && expired.length > 0) return sessionNotFound();
  const items = new Map([...results.ok].map(([b, r]) => [b, r.items]));
  const tasks = authz.tasks;
  const { runtime } = ctx;
  const policy = runtime.policy;
  switch (method) {
    case 'tools/list': {
      const hidden = await hiddenItems(runtime, deps, log, 'tools', items);
      const merged = mergeToolsList(items, ctx.naming, (n) => visibleFor(policy, tasks, 'tools', n));
      ctx.index.tools = merged.names;
      const tools = hidden.size === 0 ? merged.tools : merged.tools.filter((t) => !hiddenRef(hidden, merged.names.get(t.name as string)));
      runtime.catalog.note(tools);
      return resultReply(call.id, shape({ tools }));
    }
    case 'prompts/list': {
      const hidden = await hiddenItems(runtime, deps, log, 'prompts', items);
      const merged = mergePromptsList(items, ctx.naming, (n) => visibleFor(policy, tasks, 'prompts', n));
      ctx.index.prompts = merged.names;
      const prompts = hidden.size === 0 ? merged.prompts : merged.prompts.filter((p) => !hiddenRef(hidden, merged.names.get(p.name as string)));
      return resultReply(call.id, shape({ prompts }));
    }
    case 'resources/list': {
      const merged = mergeResourcesList(items, (u) => visibleFor(policy, tasks, 'resources', u));
      ctx.index.resources = merged.uris;
      return resultReply(call.id, shape({ resources: merged.resources }));
    }
    case 'resources/templates/list': {
      const hidden = await hiddenItems(runtime, deps, log, 'resourceTemplates', items);
      const merged = mergeResourceTemplatesList(items, (t) => visibleFor(policy, tasks, 'resourceTemplates', t));
      ctx.index.templates = compileTemplateIndex(merged.templates);
      const shown = (t: Readonly<Record<string, unknown>>) => {
        const uriTemplate = t.uriTemplate as string;
        const owner = merged.templates.get(uriTemplate);
        return !hiddenRef(hidden, owner === undefined ? undefined : { backend: owner, name: uriTemplate });
      };
      return resultReply(call.id, shape({ resourceTemplates: hidden.size === 0 ? merged.resourceTemplates : merged.resourceTemplates.filter(shown) }));
    }
  }
}
