import { describe, expect, it } from 'vitest';
import { buildRuntime, parseConfigText } from '../../src/app/runtime/load.js';
import { fanOut, type EgressClient } from '../../src/pipeline/fanout/egress.js';
import { compileNaming } from '../../src/core/mcp/names.js';
import { EMPTY_TEMPLATE_INDEX } from '../../src/pipeline/fanout/templates.js';
import { classify, type McpCall } from '../../src/core/mcp/message.js';
import type { GatewayContext } from '../../src/pipeline/extproc/gateway-context.js';
import { resolveCall } from '../../src/pipeline/extproc/gateway-route.js';
import { listIdSequence } from '../../src/pipeline/fanout/pages.js';

const CONFIG = `resource: https://mcp.test/mcp
identity: { jwt: { issuer: https://auth.test, jwksUri: https://auth.test/jwks.json } }
egress: { url: http://127.0.0.1:1 }
backends: { billing: { cluster: billing }, inventory: { cluster: inventory } }
`;

const unused = async (): Promise<never> => {
  throw new Error('resolveCall must not call a backend');
};
const egress: EgressClient = { request: unused, notify: unused, deleteSession: unused, openStream: unused, fanOut };

function context(): GatewayContext {
  const runtime = buildRuntime(parseConfigText(CONFIG, 'c.yaml'), 'c.yaml');
  return {
    runtime,
    egress,
    naming: compileNaming(runtime.config.backends),
    backends: ['billing', 'inventory'],
    listIds: listIdSequence(),
    index: {
      tools: new Map(),
      prompts: new Map([['billing.refund-email', { backend: 'billing', name: 'refund-email' }]]),
      // As the last resources/list left it: the secret lives on inventory, the public file on billing.
      resources: new Map([
        ['file:///public/a', 'billing'],
        ['file:///secret/keys', 'inventory'],
      ]),
      templates: EMPTY_TEMPLATE_INDEX,
    },
  };
}

function call(method: string, params: Record<string, unknown>): McpCall {
  const message = classify({ method: 'POST', headers: {}, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  if (message.type !== 'call') throw new Error('fixture is not a call');
  return message;
}

function refusal(resolution: ReturnType<typeof resolveCall>): string {
  if (resolution === undefined || resolution.ok) throw new Error(`expected a refusal, got ${JSON.stringify(resolution)}`);
  const step = resolution.step;
  if (step.kind !== 'immediate') throw new Error('expected an immediate reply');
  return String(step.body);
}

describe('resolveCall routes the target exactly as the policy read it', () => {
  it.each([
    ['a canonical URI goes to the backend that listed it', call('resources/read', { uri: 'file:///public/a' }), { backend: 'billing', name: 'file:///public/a' }],
    ['a subscribe routes the same way', call('resources/subscribe', { uri: 'file:///secret/keys' }), { backend: 'inventory', name: 'file:///secret/keys' }],
    ['a prompt completion routes by the prompt', call('completion/complete', { ref: { type: 'ref/prompt', name: 'billing.refund-email' }, argument: { name: 'x', value: '' } }), { backend: 'billing', name: 'refund-email' }],
  ] as const)('%s', (_name, c, ref) => {
    expect(resolveCall(context(), c)).toEqual({ ok: true, ref });
  });

  it.each([
    ['dot segments', 'file:///public/../secret/keys', 'uri-not-canonical'],
    ['encoded dots', 'file:///public/%2E%2E/secret/keys', 'uri-not-canonical'],
    ['backslashes', 'file:///public\\..\\secret\\keys', 'uri-not-canonical'],
    ['an upper-case scheme', 'FILE:///public/a', 'uri-not-canonical'],
    ['an encoded slash', 'file:///public/..%2Fsecret', 'uri-invalid'],
  ])('never routes a URI with %s, even if ext_authz let it through', (_name, uri) => {
    const body = refusal(resolveCall(context(), call('resources/read', { uri })));
    expect(JSON.parse(body)).toMatchObject({ id: 1, error: { code: -32602, message: expect.stringContaining(JSON.stringify(uri)) } });
  });

  it('never routes a prompt name that is not canonical', () => {
    const body = refusal(resolveCall(context(), call('prompts/get', { name: 'billing.refund-email ' })));
    expect(JSON.parse(body).error.message).toContain('ends with white space');
  });

  it('reads a resource completion by its uri, not a name sent beside it', () => {
    const c = call('completion/complete', { ref: { type: 'ref/resource', name: 'file:///public/a', uri: 'file:///public/../secret/{x}' }, argument: { name: 'x', value: '' } });
    expect(refusal(resolveCall(context(), c))).toContain('The resource template');
  });
});
