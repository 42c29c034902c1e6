// The admin HTTP port: liveness, readiness, the protected-resource metadata document, and authenticated admin actions.
import type * as Http from 'node:http';
import type { Logger } from 'pino';
import type { RuntimeHolder } from '../runtime/watch.js';
import { needsAdminAuth, type AdminAuth } from './admin-auth.js';
import { http } from './node-http.js';

export interface AdminState {
  ready(): boolean;
  /** Dependencies readiness also needs, by name: 'ok' or what is wrong (e.g. `{store: 'unreachable'}`). */
  dependencies?(): Promise<Readonly<Record<string, string>>>;
}

export interface RunningAdmin {
  readonly port: number;
  close(): Promise<void>;
}

export type AdminRoute = (req: Http.IncomingMessage, res: Http.ServerResponse) => boolean | Promise<boolean>;

/**
 * Reading (GET/HEAD of /healthz, /readyz, /metrics, the metadata document) is open, for probes and scrapers;
 * anything else must pass `auth` before any route sees it, so a route added later is protected without asking.
 */
export async function startAdmin(host: string, port: number, holder: RuntimeHolder, state: AdminState, auth: AdminAuth, log: Logger, extra: AdminRoute[] = []): Promise<RunningAdmin> {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (needsAdminAuth(req.method, url.pathname)) {
      const checked = auth.check(req.headers.authorization);
      if (!checked.ok) {
        log.warn({ event: 'admin.unauthorized', reason: checked.reason, method: req.method, path: url.pathname, remote: req.socket.remoteAddress }, 'admin request refused: no valid bearer secret');
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer realm="toolgate-admin"' }).end(JSON.stringify({ error: checked.message }));
        return;
      }
    }
    if (url.pathname === '/healthz') return send(res, 200, { status: 'ok' });
    if (url.pathname === '/readyz') {
      const dependencies = (await state.dependencies?.()) ?? {};
      const ready = state.ready() && Object.values(dependencies).every((d) => d === 'ok');
      return send(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', configVersion: holder.current().version, ...dependencies });
    }
    const metadata = holder.current().metadata;
    if (req.method === 'GET' && metadata.paths.includes(url.pathname)) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(metadata.document);
      return;
    }
    for (const route of extra) if (await route(req, res)) return;
    send(res, 404, { error: 'not found' });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen for admin HTTP on ${host}:${port}: ${err.message}`)));
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function send(res: Http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
