// Availability: a peer that cancels many Checks while toolgate is still deciding them must not make toolgate drop
// its HTTP/2 connection. Envoy cancels (RST_STREAM) a Check whenever its client goes away mid-request, and Node's
// HTTP/2 server, by default, answers a burst of about 1000 received resets (refilled at 33 per second) with GOAWAY and
// closes the connection, failing every other call on it (docs/envoy.md, fact 28). Here a grpc-js client plays Envoy
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

/** Twice Node's default burst allowance (1000), sent faster than its refill (33 a second) could cover. */
const CANCELS = 2000;
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
      const startedAt = Date.now();
      for (let i = 0; i < CANCELS; i++) {
        const started = client.start({ token, body: toolCall('echo', { text: `c${i}` }, i) });
        outcomes.push(started.result.then(() => 'answered', (err: grpc.ServiceError) => (err.code === grpc.status.CANCELLED ? 'cancelled' : `failed: ${err.code} ${err.details}`)));
        // One turn of the event loop puts the call's HEADERS and DATA on the wire, so the cancel sends a RST_STREAM for
        // it, as Envoy's cancel does.
        await nextTurn();
        started.call.cancel();
      }
      // What Node's default guard would have let through on one connection in that time.
      const defaultAllowance = 1000 + 33 * ((Date.now() - startedAt) / 1000);
      const cancelled = tally(await Promise.all(outcomes));
      // toolgate asked for the key set once and has been waiting since: none of the Checks was answered before its cancel.
      const heldKeyFetches = idp.heldJwksRequests();

      release();
      // A Check toolgate finishes (once the key set arrives) was waiting in its handler when its cancel came: that
      // many resets at least reached streams toolgate had open. Some cancels reach toolgate together with their Check,
      // which is then never handed to toolgate's handler; their resets count for Node all the same. The metric is
      // counted as each Check ends (the log lines may arrive later); wait until it stops moving.
      let decided = -1;
      await eventually(async () => {
        const now = await checksFinished(toolgate.adminUrl);
        const settled = now === decided;
        decided = now;
        return now >= CANCELS || settled;
      }, 'toolgate finished the Checks it had', 20_000, 1_000);
      const after = await client.check({ token, body: toolCall('echo', { text: 'after' }, 'after') });

      expect({
        // What the test did: more resets on streams toolgate had open than Node's default guard allows in the time.
        cancelled,
        heldKeyFetches,
        outpacedDefaultGuard: decided > defaultAllowance || `${decided} Checks finished, default allowance ${Math.round(defaultAllowance)}`,
        // What must not happen: the connection going away.
        connectionChanges: left,
        afterwards: after.allowed ? 'allowed' : `refused ${after.code}`,
      }).toEqual({ cancelled: { cancelled: CANCELS }, heldKeyFetches: 1, outpacedDefaultGuard: true, connectionChanges: [], afterwards: 'allowed' });
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

/** Checks toolgate has finished, whatever their result (`toolgate_check_duration_seconds_count`, every label). */
async function checksFinished(adminUrl: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  return text.split('\n')
    .filter((line) => line.startsWith('toolgate_check_duration_seconds_count'))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

function tally(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}
