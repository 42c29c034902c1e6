// A raw HTTP/1.1 request on node:http, for the headers fetch() will not let a test set (Host).
import { request } from 'node:http';

export interface RawHttpRequest {
  readonly method: string;
  /** Sent as given; `host` replaces the URL's. `content-type` and `accept` default to an MCP POST's. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** The answer so far is returned after this long (an event stream never ends on its own); default 10 s. */
  readonly timeoutMs?: number;
}

export interface RawHttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly text: string;
  /** The JSON body, or the first `data:` event of an SSE body, parsed; undefined when neither parses. */
  readonly json: unknown;
  /** True when the response had not ended within `timeoutMs` (the connection was dropped). */
  readonly cutOff: boolean;
}

export function rawRequest(url: string, req: RawHttpRequest): Promise<RawHttpAnswer> {
  const target = new URL(url);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...req.headers,
  };
  if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
  return new Promise((resolve, reject) => {
    const out = request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers }, (res) => {
      const chunks: Buffer[] = [];
      const finish = (cutOff: boolean) => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        const flat: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v;
        resolve({ status: res.statusCode ?? 0, headers: flat, text, json: parseBody(flat['content-type'] ?? '', text), cutOff });
        if (cutOff) out.destroy();
      };
      const timer = setTimeout(() => finish(true), req.timeoutMs ?? 10_000);
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => finish(false));
    });
    out.on('error', reject);
    out.end(req.body);
  });
}

function parseBody(contentType: string, text: string): unknown {
  const candidate = contentType.startsWith('text/event-stream')
    ? text.split('\n').find((l) => l.startsWith('data:'))?.slice(5).trim()
    : text;
  if (candidate === undefined) return undefined;
  try {
    return JSON.parse(candidate);
  } catch {
    return undefined;
  }
}
