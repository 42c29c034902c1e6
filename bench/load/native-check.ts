// Proof that (g), the native floor, really filters: through its Envoy, a `tools/call` of a tool the backend has but
// the allow-list lacks is refused (403 from RBAC) and never reaches the backend, while `echo` is answered.
// Expected failures are values: the caller decides whether a failed check stops the run.

/** A tool the harness backend serves (so only Envoy can be what refuses it) and NATIVE_ALLOWED_TOOLS lacks. */
export const UNLISTED_TOOL = 'whoami';

export type NativeCheck =
  | { readonly ok: true; readonly summary: string }
  | { readonly ok: false; readonly problem: string };

export interface NativeCheckTarget {
  /** http://127.0.0.1:PORT of (g)'s listener. */
  readonly origin: string;
  readonly adminUrl: string;
  /** The listener's HTTP stat prefix (the rendered bootstrap's is `mcp`). */
  readonly statPrefix: string;
  /** The cluster the backend is reached through. */
  readonly cluster: string;
  readonly path: string;
}

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const PROTOCOL = '2025-11-25';

async function counter(adminUrl: string, name: string): Promise<number> {
  const res = await fetch(`${adminUrl}/stats?format=json&filter=${encodeURIComponent(`^${name.replace(/\./g, '\\.')}$`)}`);
  const body = (await res.json()) as { stats?: Array<{ name?: string; value?: number }> };
  return Number(body.stats?.find((s) => s.name === name)?.value ?? 0);
}

/** Polls a counter until it reaches `atLeast` (workers publish stats asynchronously); its last value either way. */
async function counterReaching(adminUrl: string, name: string, atLeast: number, timeoutMs = 2_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await counter(adminUrl, name);
    if (value >= atLeast || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
}

const callBody = (id: number, tool: string) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: { text: 'native floor check' } } });

export async function checkNativeFloor(t: NativeCheckTarget): Promise<NativeCheck> {
  const url = `${t.origin}${t.path}`;
  const init = await fetch(url, {
    method: 'POST',
    headers: JSON_HEADERS,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'native-check', version: '1' } } }),
  });
  const session = init.headers.get('mcp-session-id');
  await init.text();
  if (init.status !== 200 || !session) return { ok: false, problem: `initialize: HTTP ${init.status}, session ${session ?? 'none'}` };
  const headers = { ...JSON_HEADERS, 'mcp-session-id': session, 'mcp-protocol-version': PROTOCOL };
  const initialized = await fetch(url, { method: 'POST', headers, body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' });
  await initialized.text();
  if (initialized.status !== 202) return { ok: false, problem: `notifications/initialized: HTTP ${initialized.status}` };

  const deniedName = `http.${t.statPrefix}.rbac.denied`;
  const upstreamName = `cluster.${t.cluster}.upstream_rq_total`;
  const deniedBefore = await counter(t.adminUrl, deniedName);
  const upstreamBefore = await counter(t.adminUrl, upstreamName);

  const refused = await fetch(url, { method: 'POST', headers, body: callBody(2, UNLISTED_TOOL) });
  const refusedText = await refused.text();
  if (refused.status !== 403) return { ok: false, problem: `tools/call ${UNLISTED_TOOL} (not on the allow-list): HTTP ${refused.status}, expected 403: ${refusedText.slice(0, 200)}` };
  const deniedAfter = await counterReaching(t.adminUrl, deniedName, deniedBefore + 1);
  if (deniedAfter !== deniedBefore + 1) return { ok: false, problem: `tools/call ${UNLISTED_TOOL}: 403, but ${deniedName} went ${deniedBefore} → ${deniedAfter}, so RBAC did not refuse it` };

  const allowed = await fetch(url, { method: 'POST', headers, body: callBody(3, 'echo') });
  const allowedText = await allowed.text();
  if (allowed.status !== 200 || !allowedText.includes('native floor check')) {
    return { ok: false, problem: `tools/call echo (allow-listed): HTTP ${allowed.status}: ${allowedText.slice(0, 200)}` };
  }
  // The echo call is answered, so the backend has seen it: exactly one request since, or the refused one got through.
  const upstreamAfter = await counterReaching(t.adminUrl, upstreamName, upstreamBefore + 1);
  if (upstreamAfter !== upstreamBefore + 1) {
    return { ok: false, problem: `${upstreamName} went ${upstreamBefore} → ${upstreamAfter} over the refused call and the echo: the refused call reached the backend` };
  }
  return { ok: true, summary: `${UNLISTED_TOOL} refused (HTTP 403 "${refusedText.trim().slice(0, 40)}", ${deniedName} +1, backend untouched); echo answered (HTTP 200)` };
}
