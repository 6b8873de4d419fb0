// A loopback "engine" for the tests, in a worker thread: `/metrics` answers
// the vLLM fixture passed in, `/stall` never answers, anything else 404. Posts its port back.
import { createServer } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

const server = createServer((req, res) => {
  if (req.url === '/stall') {
    // Headers never come: the caller's budget must end the wait.
    return;
  }
  if (req.url === '/metrics') {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(Buffer.from(workerData.body));
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  }
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
