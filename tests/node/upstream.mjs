// Starts server.mjs (a loopback "engine" answering `body` at /metrics) in a
// worker thread: a component's blocking `wasi:http` wait in this thread
// must not stall the server. Resolves to its base URL and the worker.
import { Worker } from 'node:worker_threads';

export async function startUpstream(body) {
  const worker = new Worker(new URL('./server.mjs', import.meta.url), { workerData: { body } });
  const port = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { base: `http://127.0.0.1:${port}`, worker };
}
