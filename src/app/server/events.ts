// toolgate's event-stream server (gateway mode): Envoy routes each client's GET here after ext_proc granted it.
import type * as Http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { RuntimeHolder } from '../runtime/watch.js';
import { startMerge, type MergeSettings } from '../../pipeline/fanout/merged-stream.js';
import { MCP_PROTOCOL_HEADER, MCP_SESSION_HEADER } from '../../core/mcp/message.js';
import { refusalBody } from '../../core/mcp/replies.js';
import { REASONS, type ReasonCode } from '../../core/mcp/reply-table.js';
import { EVENTS_GRANT_HEADER, openEventsGrant } from '../../pipeline/extproc/events-grant.js';
import { gatewayContext } from '../../pipeline/extproc/gateway-context.js';
import { callOptions, targets } from '../../pipeline/extproc/gateway-fanout.js';
import { replyIdFor, toClientMessage } from '../../pipeline/extproc/reply-ids.js';
import { taskIdFor } from '../../pipeline/extproc/task-ids.js';
import { openSession } from '../../core/session/token.js';
import { asClientSessionToken } from '../../core/session/types.js';
import type { TlsFiles } from './tls.js';
import { http } from './node-http.js';

export interface RunningEvents {
  readonly port: number;
  /** Ends every open stream (clients reconnect to another replica) and stops listening. */
  close(): Promise<void>;
}

export interface EventsOptions {
  /** Envoy's mTLS: a connection without a certificate the CA signed is refused in the handshake. */
  readonly tls?: TlsFiles | undefined;
  readonly merge?: MergeSettings;
}

export async function startEvents(host: string, port: number, holder: RuntimeHolder, log: Logger, opts: EventsOptions = {}): Promise<RunningEvents> {
  const streams = new Set<AbortController>();
  const handler = (req: Http.IncomingMessage, res: Http.ServerResponse) => {
    const controller = new AbortController();
    streams.add(controller);
    // The client went away (Envoy reset the upstream request): close every backend stream of it.
    res.once('close', () => {
      controller.abort();
      streams.delete(controller);
    });
    serveStream(req, res, holder, log, controller.signal, opts.merge).catch((err: unknown) => {
      log.error({ event: 'events.failed', err }, 'event stream failed');
      if (!res.headersSent) refuse(res, 'internal-error', 'The gateway failed while opening the event stream.');
      else res.end();
    });
  };
  const server = opts.tls
    ? https.createServer({ ca: opts.tls.ca, cert: opts.tls.cert, key: opts.tls.key, requestCert: true, rejectUnauthorized: true }, handler)
    : http.createServer(handler);
  // Streams are long-lived by design; Node's default request timeout (5 min) would cut them.
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen for the event-stream server on ${host}:${port}: ${err.message}`)));
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise<void>((resolve) => {
      for (const c of streams) c.abort();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function serveStream(req: Http.IncomingMessage, res: Http.ServerResponse, holder: RuntimeHolder, log: Logger, signal: AbortSignal, merge: MergeSettings | undefined): Promise<void> {
  if (req.method !== 'GET') return refuse(res, 'http-method-not-allowed', 'The event-stream server serves GET only.', { allow: 'GET' });
  const runtime = holder.current();
  if (Object.keys(runtime.config.backends).length <= 1) return refuse(res, 'events-not-served', 'The event-stream server serves gateway mode only.');
  const keyring = runtime.sessions.keyring;
  const token = header(req, MCP_SESSION_HEADER) ?? '';
  // Only ext_proc mints grants, after it opened this very token for the subject ext_authz verified.
  const subject = openEventsGrant(keyring, header(req, EVENTS_GRANT_HEADER), token);
  if (subject === undefined) return refuse(res, 'events-grant-invalid', 'This event stream is served only through the gateway (no valid grant from its ext_proc).');
  const opened = await openSession(keyring, asClientSessionToken(token), { expectedSubject: subject });
  if (!opened.ok) return refuse(res, 'session-not-found', 'Session not found or expired. Start a new session with initialize.');
  const session = opened.session;
  const ctx = gatewayContext(runtime);
  const version = header(req, MCP_PROTOCOL_HEADER);
  const start = await startMerge({
    backends: targets(ctx, session),
    open: (backend, lastEventId, s) => ctx.egress.openStream(backend, { ...callOptions(ctx, backend, session, version), ...(lastEventId === undefined ? {} : { lastEventId }) }, s),
    rewrite: (backend) => (message) =>
      toClientMessage(message, (id) => replyIdFor(keyring, session.tokenId, backend, id), (id) => taskIdFor(keyring, session.tokenId, backend, id)),
    gone: (backend, why) => log.info({ event: 'events.backend-left', backend, why }, 'backend left out of the merged event stream'),
  }, header(req, 'last-event-id'), signal, merge);
  if (start.kind === 'refused') return refuse(res, start.reason, start.message);
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', [MCP_SESSION_HEADER]: token });
  res.flushHeaders();
  await start.run({ write: (bytes) => { res.write(bytes); } }, signal);
  res.end();
}

/** Status and code from the reply table, so a refusal here reads as the same refusal from ext_proc. */
function refuse(res: Http.ServerResponse, reason: ReasonCode, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(REASONS[reason].http, { 'content-type': 'application/json', ...headers }).end(refusalBody(null, reason, message));
}

function header(req: Http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
