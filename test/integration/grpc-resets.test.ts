// Availability: a peer that cancels many Checks while toolgate is still deciding them must not make toolgate drop
// its HTTP/2 connection. Envoy cancels (RST_STREAM) a Check whenever its client goes away mid-request, and Node's
// HTTP/2 server, by default, answers a burst of about 1000 received resets (refilled at 33 per second) with GOAWAY and
// closes the connection, failing every other call on it (docs/envoy.md, fact 27). Here a grpc-js client plays Envoy
// against the built toolgate, with no Envoy in between: the Checks wait for a key set the test holds back, so every
// cancel reaches a stream toolgate is still working on, whatever the timing.
import { setImmediate as nextTurn } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkClient, toolCall } from '../harness/check-client.js';
import { eventually } from '../harness/eventually.js';
import { startTestIdp, type TestIdp } from '../harness/jwt.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { startToolgate, type Toolgate } from '../harness/toolgate.js';
import { toolgateConfigText } from '../e2e/helpers/toolgate.js';

printLogsOnFailure();

/** Half as many again as Node's default burst allowance (1000), sent faster than its refill could cover. */
const CANCELS = 1500;
const TASKS = { t: { description: 'echo only', tools: [{ tool: 'echo' }] } };
const CLAIMS = { authorized_tasks: ['t'] };
/** No Envoy here: the test is toolgate's gRPC client. The URL only names the resource (the tokens' audience). */
const ENVOY_URL = 'http://127.0.0.1:9';

describe('toolgate gRPC server: Checks cancelled while toolgate decides them', () => {
  let idp: TestIdp;
  let toolgate: Toolgate;
  let release: () => void;
  beforeAll(async () => {
    idp = await startTestIdp({ audience: `${ENVOY_URL}/mcp` });
    // Every Check waits for the key set until the test releases it; the fetch may take that long (the default 1 s
    // would answer them all with 503 first).
    release = idp.holdJwks();
    toolgate = await startToolgate({
      config: (ports) => toolgateConfigText({ envoyUrl: ENVOY_URL, idp, tasks: TASKS, jwt: { jwksTimeout: '60s' } }, ports),
    });
  });
  afterAll(async () => {
    release?.();
    await toolgate?.dispose();
    await idp?.stop();
  });

  it(`keeps the connection through ${CANCELS} cancelled Checks, and answers the next Check on it`, async () => {
    const client = checkClient(toolgate.grpcPort);
    try {
      const channel = client.channel();
      await waitForReady(channel);
      // Any change from READY means the one connection went away (a GOAWAY makes the channel IDLE, then it reconnects).
      const left: string[] = [];
      const watch = (state: grpc.connectivityState) => channel.watchConnectivityState(state, Infinity, () => {
        const now = channel.getConnectivityState(false);
        if (now === grpc.connectivityState.SHUTDOWN) return;
        left.push(grpc.connectivityState[now]);
        watch(now);
      });
      watch(grpc.connectivityState.READY);

      const token = await idp.mint(CLAIMS);
      const outcomes: Array<Promise<string>> = [];
      for (let i = 0; i < CANCELS; i++) {
        const started = client.start({ token, body: toolCall('echo', { text: `c${i}` }, i) });
        outcomes.push(started.result.then(() => 'answered', (err: grpc.ServiceError) => (err.code === grpc.status.CANCELLED ? 'cancelled' : `failed: ${err.code} ${err.details}`)));
        // One turn of the event loop puts the call's HEADERS and DATA on the wire; the cancel then resets a stream
        // toolgate has (it is waiting for the key set), as Envoy's cancel does.
        await nextTurn();
        started.call.cancel();
      }
      const cancelled = tally(await Promise.all(outcomes));
      // toolgate asked for the key set once and has been waiting since: none of the Checks was answered before its cancel.
      const heldKeyFetches = idp.heldJwksRequests();

      release();
      // Each Check reached toolgate (its decision is logged once the key set arrives), so each cancel reset a stream
      // toolgate had open.
      await eventually(() => toolgate.decisions().length >= CANCELS, `toolgate decided the ${CANCELS} Checks`, 10_000, 100).catch(() => undefined);
      const decided = toolgate.decisions().length;
      const after = await client.check({ token, body: toolCall('echo', { text: 'after' }, 'after') });

      expect({ cancelled, heldKeyFetches, decided, connectionChanges: left, afterwards: after.allowed ? 'allowed' : `refused ${after.code}` })
        .toEqual({ cancelled: { cancelled: CANCELS }, heldKeyFetches: 1, decided: CANCELS, connectionChanges: [], afterwards: 'allowed' });
      expect(grpc.connectivityState[channel.getConnectivityState(false)]).toBe('READY');
    } finally {
      client.close();
    }
  }, 60_000);
});

async function waitForReady(channel: grpc.ChannelInterface): Promise<void> {
  for (let state = channel.getConnectivityState(true); state !== grpc.connectivityState.READY; state = channel.getConnectivityState(true)) {
    await new Promise<void>((resolve, reject) => channel.watchConnectivityState(state, Date.now() + 10_000, (err) => (err ? reject(err) : resolve())));
  }
}

function tally(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}
