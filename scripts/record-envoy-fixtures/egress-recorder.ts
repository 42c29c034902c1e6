// An HTTP pass-through between toolgate and Envoy's egress listener that keeps every fan-out call and its answer.
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { RecordedEgress } from '../../test/harness/envoy-fixtures.js';
import { freePort } from '../../test/harness/ports.js';

export interface EgressRecord { label: string; entry: RecordedEgress & { responseBody: string; status: number } }

export interface EgressRecorder {
  readonly url: string;
  readonly calls: EgressRecord[];
  label(name: string): void;
  stop(): Promise<void>;
}

const flat = (h: IncomingHttpHeaders): Record<string, string> =>
  Object.fromEntries(Object.entries(h).flatMap(([k, v]) => (v === undefined ? [] : [[k, Array.isArray(v) ? v.join(',') : v]])));

export async function startEgressRecorder(envoyEgressPort: number): Promise<EgressRecorder> {
  const calls: EgressRecord[] = [];
  let current = 'unlabelled';
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const entry = {
        at: Date.now(), method: req.method ?? 'GET', path: req.url ?? '/', headers: flat(req.headers), body: body.toString('utf8'),
        status: 0, responseHeaders: {} as Record<string, string>, responseBody: '',
      };
      calls.push({ label: current, entry });
      const out = request({ host: '127.0.0.1', port: envoyEgressPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        entry.status = answer.statusCode ?? 0;
        entry.responseHeaders = flat(answer.headers);
        res.writeHead(entry.status, answer.headers);
        // Streamed as it comes: an event stream stays open, and what it carried so far is what gets written.
        answer.on('data', (c: Buffer) => {
          entry.responseBody += c.toString('utf8');
          res.write(c);
        });
        answer.on('end', () => res.end());
        answer.on('error', () => res.destroy());
      });
      out.on('error', () => res.destroy());
      res.on('close', () => out.destroy());
      out.end(body);
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    label: (name) => { current = name; },
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
