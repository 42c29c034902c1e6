// Gateway task ids and task routing: ids bound to one session and backend, rewritten wherever a task id reaches the
// client, restored on the way back, and never sent anywhere when they do not verify.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { buildRuntime, parseConfigText } from '../../src/app/runtime/load.js';
import { fanOut, type EgressClient, type RequestMessage, type RequestSuccess } from '../../src/pipeline/fanout/egress.js';
import { mergeInitialize } from '../../src/pipeline/fanout/merge.js';
import { compileNaming } from '../../src/core/mcp/names.js';
import { EMPTY_TEMPLATE_INDEX } from '../../src/pipeline/fanout/templates.js';
import type { McpCall } from '../../src/core/mcp/message.js';
import type { Step } from '../../src/pipeline/extproc/exchange.js';
import type { GatewayContext } from '../../src/pipeline/extproc/gateway-context.js';
import { listTasksAll, routeTaskRequest, taskAugmentedCall, takesTaskCall } from '../../src/pipeline/extproc/gateway-tasks.js';
import { gatewayIdFor, replyIdFor, toClientMessage } from '../../src/pipeline/extproc/reply-ids.js';
import { openTaskId, taskIdFor, toClientTaskResponse, withClientTaskIds } from '../../src/pipeline/extproc/task-ids.js';
import { taskJsonBody, watchTaskResponse } from '../../src/pipeline/extproc/gateway-task-responses.js';
import { createKeyring } from '../../src/core/session/keys.js';
import { capabilitySetOf, type Session, type TokenId } from '../../src/core/session/types.js';
import { listIdSequence } from '../../src/pipeline/fanout/pages.js';

const keyring = createKeyring({ current: { kid: 'k1', secret: randomBytes(32).toString('base64url') } });
const SESSION = 'session-a' as TokenId;
const OTHER = 'session-b' as TokenId;

describe('taskIdFor / openTaskId', () => {
  const issued = taskIdFor(keyring, SESSION, 'billing', 'f3eb95ef');

  it('names the backend and round-trips the backend task id', () => {
    expect(issued).toMatch(/^billing:[A-Za-z0-9_-]{16}:"f3eb95ef"$/);
    expect(openTaskId(keyring, SESSION, issued)).toEqual({ backend: 'billing', id: 'f3eb95ef' });
  });

  it.each<[string, unknown, TokenId]>([
    ['the bare backend id', 'f3eb95ef', SESSION],
    ['a non-string', 7, SESSION],
    ['the id on another session', issued, OTHER],
    ['another backend under the same tag', issued.replace(/^billing/, 'inventory'), SESSION],
    ['another backend task id under the same tag', issued.replace('f3eb95ef', 'f3eb95e0'), SESSION],
    ['a changed tag', issued.replace(/:[^:]+:/, ':AAAAAAAAAAAAAAAA:'), SESSION],
    ['a reply id (same scheme, other purpose)', replyIdFor(keyring, SESSION, 'billing', 'f3eb95ef'), SESSION],
    ['a number under a valid task tag (never issued: task ids are strings)', gatewayIdFor(keyring, 'task-id', SESSION, 'billing', 5), SESSION],
  ])('refuses %s', (_name, presented, session) => {
    expect(openTaskId(keyring, session, presented)).toBeUndefined();
  });
});

describe('withClientTaskIds', () => {
  const encode = (id: string) => `gw(${id})`;

  it('rewrites a CreateTaskResult, a Task, a task list and the related-task _meta; nothing else', () => {
    const created = { task: { taskId: 'a', status: 'working', ttl: 60000 }, _meta: { other: 1 } };
    expect(withClientTaskIds(created, encode)).toEqual({ task: { taskId: 'gw(a)', status: 'working', ttl: 60000 }, _meta: { other: 1 } });
    expect(withClientTaskIds({ taskId: 'b', status: 'completed' }, encode)).toEqual({ taskId: 'gw(b)', status: 'completed' });
    expect(withClientTaskIds({ tasks: [{ taskId: 'c' }, { taskId: 'd', status: 'failed' }], nextCursor: 'x' }, encode)).toEqual({
      tasks: [{ taskId: 'gw(c)' }, { taskId: 'gw(d)', status: 'failed' }],
      nextCursor: 'x',
    });
    const result = { content: [{ type: 'text', text: 'taskId: e' }], _meta: { 'io.modelcontextprotocol/related-task': { taskId: 'e' } } };
    expect(withClientTaskIds(result, encode)).toEqual({ content: [{ type: 'text', text: 'taskId: e' }], _meta: { 'io.modelcontextprotocol/related-task': { taskId: 'gw(e)' } } });
    expect(result._meta['io.modelcontextprotocol/related-task'].taskId).toBe('e');
  });

  it('leaves a result that names no task as it was', () => {
    const plain = { content: [], structuredContent: { taskId: 'not-a-task-field' } };
    expect(withClientTaskIds(plain, encode)).toEqual(plain);
  });
});

describe('toClientMessage with task ids', () => {
  const ids = (id: string | number) => `req(${String(id)})`;
  const tasks = (id: string) => `task(${id})`;

  it('rewrites notifications/tasks/status', () => {
    const status = { jsonrpc: '2.0', method: 'notifications/tasks/status', params: { taskId: 'a', status: 'completed', createdAt: 'now' } };
    expect(toClientMessage(status, ids, tasks)).toEqual({ ...status, params: { taskId: 'task(a)', status: 'completed', createdAt: 'now' } });
  });

  it('rewrites a server request of a task: its id and its related-task _meta', () => {
    const ask = { jsonrpc: '2.0', id: 4, method: 'elicitation/create', params: { message: 'who?', _meta: { 'io.modelcontextprotocol/related-task': { taskId: 'b' } } } };
    expect(toClientMessage(ask, ids, tasks)).toEqual({ ...ask, id: 'req(4)', params: { message: 'who?', _meta: { 'io.modelcontextprotocol/related-task': { taskId: 'task(b)' } } } });
  });

  it('leaves other notifications and every response alone', () => {
    expect(toClientMessage({ jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1 } }, ids, tasks)).toBeUndefined();
    expect(toClientMessage({ jsonrpc: '2.0', id: 1, result: { task: { taskId: 'c' } } }, ids, tasks)).toBeUndefined();
  });
});

describe('mergeInitialize: tasks', () => {
  const gateway = { name: 'toolgate', version: '0' };
  it('is the union of the parts the backends offer, and absent when none does', () => {
    const withTasks = new Map<string, Record<string, unknown>>([
      ['billing', { capabilities: { tools: {}, tasks: { list: {}, requests: { tools: { call: {} } } } } }],
      ['inventory', { capabilities: { tools: {}, tasks: { cancel: {}, requests: { sampling: { createMessage: {} } } } } }],
    ]);
    expect(mergeInitialize(withTasks, gateway, '2025-11-25').capabilities.tasks).toEqual({ list: {}, cancel: {}, requests: { tools: { call: {} } } });
    const without = new Map<string, Record<string, unknown>>([['billing', { capabilities: { tools: {} } }]]);
    expect(mergeInitialize(without, gateway, '2025-11-25').capabilities.tasks).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Routing, with a scripted egress that records what each backend was sent.

const CONFIG = `resource: https://mcp.test/mcp
identity: { jwt: { issuer: https://auth.test, jwksUri: https://auth.test/jwks.json } }
egress: { url: http://127.0.0.1:1 }
backends: { billing: { cluster: billing }, inventory: { cluster: inventory } }
`;
const runtime = buildRuntime(parseConfigText(CONFIG, 'c.yaml'), 'c.yaml');
const log = pino({ level: 'silent' });

function scripted(answer: (backend: string, message: RequestMessage) => Record<string, unknown>): { ctx: GatewayContext; sent: Array<[string, RequestMessage]> } {
  const sent: Array<[string, RequestMessage]> = [];
  const request: EgressClient['request'] = async (backend, message) => {
    sent.push([backend, message]);
    return { ok: true, status: 200, message: { jsonrpc: '2.0', id: message.id, result: answer(backend, message) } } satisfies RequestSuccess;
  };
  const client: EgressClient = {
    request, notify: async () => ({ ok: true, status: 202 }), deleteSession: async () => ({ ok: true, status: 200 }),
    openStream: async (b) => ({ ok: false, backend: b, error: 'http-status', status: 405, detail: 'unused' }), fanOut,
  };
  const ctx: GatewayContext = {
    runtime, egress: client, naming: compileNaming(runtime.config.backends), backends: ['billing', 'inventory'],
    index: { tools: new Map(), prompts: new Map(), resources: new Map(), templates: EMPTY_TEMPLATE_INDEX }, listIds: listIdSequence(),
  };
  return { ctx, sent };
}

const TASKS = capabilitySetOf('tools', 'tasks', 'tasks.list', 'tasks.cancel', 'tasks.requests.tools.call');
const sessionOf = (tokenId: TokenId): Session => ({
  subject: 'agent-7', tokenId, issuedAt: 0, expiresAt: 2e9,
  backends: new Map([
    ['billing', { sessionId: 'sb' as never, protocolVersion: '2025-11-25', capabilities: TASKS }],
    ['inventory', { sessionId: 'si' as never, protocolVersion: '2025-11-25', capabilities: capabilitySetOf('tools') }],
  ]),
});
const session = sessionOf('t1' as TokenId);
const call = (method: string, params: Record<string, unknown>): McpCall => ({
  type: 'call', kind: 'request', method, id: 9, target: undefined, arguments: {}, params, traceparent: undefined, fromHeadersOnly: false,
  json: { jsonrpc: '2.0', id: 9, method, params },
});
const body = (step: Step) => (step.kind === 'immediate' ? JSON.parse(step.body) : undefined);

describe('task routing', () => {
  it('only a backend that announced task-augmented tools/call gets the call as a task', () => {
    expect(takesTaskCall(session, 'billing')).toBe(true);
    expect(takesTaskCall(session, 'inventory')).toBe(false);
    expect(takesTaskCall(undefined, 'billing')).toBe(false);
  });

  it('a task-augmented call goes to its backend under the backend name; the task id comes back in the gateway form', async () => {
    const { ctx, sent } = scripted(() => ({ task: { taskId: 'T1', status: 'working' } }));
    const step = await taskAugmentedCall(ctx, { ...call('tools/call', { name: 'billing.crunch', arguments: { word: 'w' }, task: {} }), target: 'billing.crunch' }, { backend: 'billing', name: 'crunch' }, session, '2025-11-25');
    expect(sent).toEqual([['billing', { method: 'tools/call', params: { name: 'crunch', arguments: { word: 'w' }, task: {} }, id: 9 }]]);
    const taskId = body(step).result.task.taskId as string;
    expect(openTaskId(runtime.sessions.keyring, session.tokenId, taskId)).toEqual({ backend: 'billing', id: 'T1' });
  });

  it.each(['tasks/get', 'tasks/result', 'tasks/cancel'])('%s is routed through Envoy to the backend the id names, with its session and its own task id', (method) => {
    const { ctx, sent } = scripted(() => ({}));
    const issued = taskIdFor(runtime.sessions.keyring, session.tokenId, 'billing', 'T1');
    const routed = routeTaskRequest(ctx, call(method, { taskId: issued, _meta: { progressToken: 3 } }), session, false, true);
    expect(sent).toEqual([]);
    expect(routed.backend).toBe('billing');
    expect(routed.step).toMatchObject({
      kind: 'continue', clearRouteCache: true,
      set: { 'x-toolgate-backend': 'billing', 'mcp-session-id': 'sb', 'mcp-protocol-version': '2025-11-25', 'x-toolgate-affinity': 't1' },
    });
    const forwarded = routed.step.kind === 'continue' ? JSON.parse(String(routed.step.body)) : undefined;
    expect(forwarded).toEqual({ jsonrpc: '2.0', id: 9, method, params: { taskId: 'T1', _meta: { progressToken: 3 } } });
  });

  it('refuses a task request whose answer toolgate would not see (the method was not known in the headers phase)', () => {
    const { ctx } = scripted(() => ({}));
    const issued = taskIdFor(runtime.sessions.keyring, session.tokenId, 'billing', 'T1');
    const routed = routeTaskRequest(ctx, call('tasks/result', { taskId: issued }), session, false, false);
    expect(routed.backend).toBeUndefined();
    expect(routed.step).toMatchObject({ kind: 'immediate', status: 500 });
    expect(body(routed.step).error.message).toContain('no backend was asked');
  });

  it.each<[string, unknown]>([
    ['a bare backend id', 'T1'],
    ['another session\'s id', taskIdFor(runtime.sessions.keyring, 'someone-else' as TokenId, 'billing', 'T1')],
    ['a reply id', replyIdFor(runtime.sessions.keyring, session.tokenId, 'billing', 'T1')],
    ['no taskId', undefined],
  ])('refuses %s without asking any backend', async (_name, taskId) => {
    const { ctx, sent } = scripted(() => ({}));
    const routed = routeTaskRequest(ctx, call('tasks/result', { taskId }), session, false, true);
    expect(sent).toEqual([]);
    expect(routed.backend).toBeUndefined();
    const step = routed.step;
    expect(step).toMatchObject({ kind: 'immediate', status: 200 });
    expect(body(step)).toMatchObject({ id: 9, error: { code: -32602, message: expect.stringContaining('not issued to this session') } });
  });

  it('tasks/list asks every backend that lists tasks, follows its cursor, and merges in the gateway form', async () => {
    const { ctx, sent } = scripted((_b, m) => (m.params?.cursor === undefined ? { tasks: [{ taskId: 'A' }], nextCursor: 'p2' } : { tasks: [{ taskId: 'B' }] }));
    const step = await listTasksAll(ctx, call('tasks/list', {}), session, '2025-11-25', log);
    expect(sent.map(([b, m]) => [b, m.params])).toEqual([['billing', {}], ['billing', { cursor: 'p2' }]]);
    const listed = body(step).result.tasks as Array<{ taskId: string }>;
    expect(listed.map((t) => openTaskId(runtime.sessions.keyring, session.tokenId, t.taskId))).toEqual([{ backend: 'billing', id: 'A' }, { backend: 'billing', id: 'B' }]);
    expect(body(step).result.nextCursor).toBeUndefined();
  });

});

describe('the answer to a routed task request', () => {
  const keyringOf = runtime.sessions.keyring;
  const { ctx } = scripted(() => ({}));
  const gw = (id: string) => taskIdFor(keyringOf, session.tokenId, 'billing', id);
  const related = (taskId: string) => ({ 'io.modelcontextprotocol/related-task': { taskId } });

  it('toClientTaskResponse: a Task gets its id rewritten; a task result only its related-task _meta; errors stay', () => {
    const encode = (id: string) => `gw(${id})`;
    expect(toClientTaskResponse('tasks/get', { jsonrpc: '2.0', id: 1, result: { taskId: 'a', status: 'working' } }, encode)).toEqual({ jsonrpc: '2.0', id: 1, result: { taskId: 'gw(a)', status: 'working' } });
    expect(toClientTaskResponse('tasks/cancel', { jsonrpc: '2.0', id: 1, result: { taskId: 'a', status: 'cancelled' } }, encode)).toMatchObject({ result: { taskId: 'gw(a)' } });
    // A tool's own fields are the tool's, even one called taskId.
    const toolResult = { content: [], structuredContent: {}, taskId: 'tool-field', _meta: related('a') };
    expect(toClientTaskResponse('tasks/result', { jsonrpc: '2.0', id: 1, result: toolResult }, encode)).toEqual({ jsonrpc: '2.0', id: 1, result: { ...toolResult, _meta: related('gw(a)') } });
    expect(toClientTaskResponse('tasks/result', { jsonrpc: '2.0', id: 1, result: { content: [] } }, encode)).toBeUndefined();
    expect(toClientTaskResponse('tasks/get', { jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'Task not found' } }, encode)).toBeUndefined();
    expect(toClientTaskResponse('tasks/get', { jsonrpc: '2.0', id: 2, method: 'elicitation/create', params: {} }, encode)).toBeUndefined();
  });

  it('an event stream: the task\'s request gets a reply id and the gateway task id, the result its related-task id, split anywhere', () => {
    const route = { backend: 'billing', method: 'tasks/result' };
    const watch = watchTaskResponse(ctx, session, route, { ':status': '200', 'content-type': 'text/event-stream', 'content-length': '10' });
    expect(watch?.mode).toEqual({ requestBody: 'NONE', responseHeaders: 'SEND', responseBody: 'STREAMED' });
    expect(watch?.remove).toEqual(['content-length']);
    const ask = { jsonrpc: '2.0', id: 4, method: 'elicitation/create', params: { message: 'who?', _meta: related('T1') } };
    const answer = { result: { content: [{ type: 'text', text: 'done' }], _meta: related('T1') }, jsonrpc: '2.0', id: 9 };
    const wire = Buffer.from(`event: message\ndata: ${JSON.stringify(ask)}\n\nevent: message\ndata: ${JSON.stringify(answer)}\n\n`);
    const rewriter = watch?.rewriter;
    if (!rewriter) throw new Error('an event stream gets a rewriter');
    const out = Buffer.concat([...Array.from({ length: Math.ceil(wire.length / 7) }, (_, i) => rewriter.push(wire.subarray(i * 7, i * 7 + 7))), rewriter.end()]).toString('utf8');
    const messages = out.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>);
    expect(messages).toEqual([
      { ...ask, id: replyIdFor(keyringOf, session.tokenId, 'billing', 4), params: { message: 'who?', _meta: related(gw('T1')) } },
      { ...answer, result: { content: [{ type: 'text', text: 'done' }], _meta: related(gw('T1')) } },
    ]);
    expect(rewriter.responseSeen()).toBe(true);
  });

  it('a JSON answer is buffered and rewritten whole; an HTTP error passes', () => {
    const route = { backend: 'billing', method: 'tasks/get' };
    expect(watchTaskResponse(ctx, session, route, { ':status': '200', 'content-type': 'application/json' })).toEqual({ mode: { requestBody: 'NONE', responseHeaders: 'SEND', responseBody: 'BUFFERED' }, remove: [] });
    expect(watchTaskResponse(ctx, session, route, { ':status': '404', 'content-type': 'application/json' })).toBeUndefined();
    const step = taskJsonBody(ctx, session, route, Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 9, result: { taskId: 'T1', status: 'completed' } })));
    expect(step.kind === 'continue' ? JSON.parse(String(step.body)) : undefined).toEqual({ jsonrpc: '2.0', id: 9, result: { taskId: gw('T1'), status: 'completed' } });
    expect(taskJsonBody(ctx, session, route, Buffer.from('{"jsonrpc":"2.0","id":9,"error":{"code":-32602,"message":"Task not found"}}'))).toEqual({ kind: 'continue' });
  });
});
