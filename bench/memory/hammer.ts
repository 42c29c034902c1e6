// The load side of bench/memory: a process of its own that keeps `concurrency` Check calls in flight over one grpc-js
// channel for `seconds`, as Envoy's ext_authz filter would, and prints one JSON summary line when done.
import { checkClient, toolCall } from '../../test/harness/check-client.js';

interface HammerArgs {
  readonly port: number;
  readonly token: string;
  readonly seconds: number;
  readonly concurrency: number;
}

/** What the decision mix looks like: an allow without a condition, an allow through CEL, a CEL denial. */
const CALLS = [
  toolCall('lookup_charge', { charge_id: 'ch_1234567890' }),
  toolCall('refund', { charge_id: 'ch_1234567890', amount: 120 }),
  toolCall('refund', { charge_id: 'ch_1234567890', amount: 900 }),
] as const;

async function hammer(args: HammerArgs): Promise<{ calls: number; allowed: number; denied: number; failed: number; firstError?: string }> {
  const client = checkClient(args.port);
  const headers = { authorization: `Bearer ${args.token}` };
  const until = Date.now() + args.seconds * 1000;
  let calls = 0;
  let allowed = 0;
  let denied = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async (n: number) => {
    for (let i = n; Date.now() < until; i++) {
      try {
        const answer = await client.check({ headers, body: CALLS[i % CALLS.length] });
        if (answer.allowed) allowed++;
        else denied++;
      } catch (err) {
        failed++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
      calls++;
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, (_, n) => worker(n)));
  client.close();
  return { calls, allowed, denied, failed, ...(firstError ? { firstError } : {}) };
}

const [port, token, seconds, concurrency] = process.argv.slice(2);
hammer({ port: Number(port), token: token ?? '', seconds: Number(seconds), concurrency: Number(concurrency) }).then(
  (summary) => process.stdout.write(`${JSON.stringify(summary)}\n`),
  (err: unknown) => {
    process.stderr.write(`hammer: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
