import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/app/runtime/load.js';
import { holdRuntime, type RuntimeHolder } from '../../src/app/runtime/watch.js';
import { checkHandler } from '../../src/envoy/check.js';
import { envoyServices } from '../../src/envoy/protos.js';
import { startTestIdp, type TestIdp } from '../harness/jwt.js';

const RESOURCE = 'https://mcp.test/mcp';
let idp: TestIdp;
let holder: RuntimeHolder;
let token: string;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'toolgate-check-'));
  idp = await startTestIdp({ serve: false, issuer: 'https://auth.test', audience: RESOURCE });
  const jwksFile = await idp.writeJwksFile(path.join(dir, 'jwks.json'));
  writeFileSync(path.join(dir, 'c.yaml'), `resource: ${RESOURCE}
identity:
  jwt: { issuer: https://auth.test, jwksFile: ${jwksFile} }
tasks:
  t:
    tools:
      - tool: echo
`);
  holder = holdRuntime(loadConfigFile(path.join(dir, 'c.yaml')), pino({ level: 'silent' }), { watch: false });
  token = await idp.mint({ authorized_tasks: ['t'] });
});
afterAll(async () => {
  holder?.close();
  await idp?.stop();
});

/** One Check through the handler, its response through the real protobuf encoding (unknown field names vanish there). */
async function check(http: Record<string, unknown>): Promise<any> {
  const handler = checkHandler(holder, pino({ level: 'silent' }));
  const response = await new Promise<unknown>((resolve, reject) => {
    const call = { request: { attributes: { request: { http } } } } as unknown as Parameters<typeof handler>[0];
    const done: grpc.sendUnaryData<unknown> = (err, res) => (err ? reject(err) : resolve(res));
    handler(call, done);
  });
  const rpc = envoyServices().authz.Check!;
  return rpc.responseDeserialize(rpc.responseSerialize(response));
}

const CALL = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}';

describe('ext_authz Check adapter', () => {
  it('sets the canonical Content-Type on an allowed POST, overwriting whatever the client sent', async () => {
    const res = await check({
      method: 'POST',
      path: '/mcp',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'Application/JSON; Charset="UTF-8"' },
      raw_body: Buffer.from(CALL),
    });
    expect(res.status.code ?? 0).toBe(0);
    expect(res.ok_response.headers).toEqual([{ header: { key: 'content-type', value: 'application/json' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }]);
    // The deprecated `append` stays unset, so Envoy follows append_action alone.
    expect(res.ok_response.headers[0].append).toBeUndefined();
  });

  it('reads the body from raw_body bytes, so invalid UTF-8 is refused rather than replaced', async () => {
    const res = await check({
      method: 'POST',
      path: '/mcp',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      raw_body: Buffer.concat([Buffer.from(CALL.slice(0, -3)), Buffer.from([0xff]), Buffer.from(CALL.slice(-3))]),
    });
    expect(res.denied_response.status.code).toBe('UnsupportedMediaType');
    expect(JSON.parse(res.denied_response.body.toString()).error.message).toMatch(/not valid UTF-8/);
  });

  it('refuses a body Envoy sent as text (pack_as_bytes off): its bytes can no longer be checked', async () => {
    const res = await check({
      method: 'POST',
      path: '/mcp',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: CALL,
    });
    expect(res.denied_response.status.code).toBe('InternalServerError');
    expect(JSON.parse(res.denied_response.body.toString()).error.message).toMatch(/as text, not bytes/);
  });
});
