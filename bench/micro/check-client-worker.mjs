// The Envoy side of bench/micro/check-profile.ts, on its own thread: sends pre-encoded CheckRequests through a real
// grpc-js client and keeps the answers as bytes, so the profiled main thread holds only toolgate's server.
import { parentPort, workerData } from 'node:worker_threads';
import * as grpc from '@grpc/grpc-js';

const { port, path } = workerData;
const request = Buffer.from(workerData.request);
const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
const raw = (b) => b;

/** Sends `total` calls, `concurrency` at a time; answers with how many succeeded. */
function run(total, concurrency) {
  return new Promise((resolve) => {
    let started = 0;
    let done = 0;
    let failed = 0;
    const next = () => {
      if (started >= total) return;
      started++;
      client.makeUnaryRequest(path, raw, raw, request, (err) => {
        if (err) failed++;
        done++;
        if (done === total) resolve({ ok: total - failed, failed });
        else next();
      });
    };
    for (let i = 0; i < Math.min(concurrency, total); i++) next();
  });
}

parentPort.on('message', async (msg) => {
  if (msg.type === 'run') parentPort.postMessage(await run(msg.total, msg.concurrency));
  if (msg.type === 'close') {
    client.close();
    parentPort.close();
  }
});
