// `jco serve` (the README's "Other hosts" command) running the component's
// `wasi:http/incoming-handler` as a Node.js HTTP server, driven over real
// HTTP: engines, map and collect answer what the CLI prints (time aside),
// and the error cases answer the same problem documents as under the Rust
// host (tests/tests/e2e/service.rs) and `wasmtime serve`.
//
// Needs LLM_METRICS_WASM (the `service` world) and LLM_METRICS_CLI (the
// `llm-metrics` binary, whose JSON the answers are compared with); .ci/run
// sets both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startUpstream } from './upstream.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', 'fixtures');
const fixture = (name) => readFileSync(join(fixtures, name));

function required(env, how) {
  const value = process.env[env];
  if (!value) throw new Error(`${env} is not set: ${how}`);
  return value;
}
const wasm = required('LLM_METRICS_WASM', '`cargo run -q -p llm-metrics-host --example component_path` prints it');
const cli = required('LLM_METRICS_CLI', 'the `llm-metrics` binary (`cargo build -p llm-metrics`; target/debug/llm-metrics)');

let serve;
let base;
let upstream;
let upstreamWorker;
let jcoDir;

// A port that was free a moment ago (jco serve takes a fixed --port).
const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

before(async () => {
  ({ base: upstream, worker: upstreamWorker } = await startUpstream(fixture('vllm_v1.prom')));

  const port = await freePort();
  const jco = join(here, 'node_modules', '.bin', 'jco');
  // Its own process group: jco runs the server in a child process of its own,
  // and both must end with the tests.
  jcoDir = mkdtempSync(join(tmpdir(), 'llm-metrics-jco-'));
  const args = ['serve', '--host', '127.0.0.1', '--port', String(port), '--jco-dir', jcoDir, wasm];
  serve = spawn(jco, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let log = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`jco serve did not start:\n${log}`)), 120_000);
    const seen = (chunk) => {
      log += chunk;
      if (log.includes('Server listening')) {
        clearTimeout(timer);
        resolve();
      }
    };
    serve.stdout.on('data', seen);
    serve.stderr.on('data', seen);
    serve.once('exit', (code) => reject(new Error(`jco serve exited (${code}):\n${log}`)));
  });
  base = `http://127.0.0.1:${port}`;
});

after(async () => {
  if (serve) {
    const exited = new Promise((resolve) => serve.once('exit', resolve));
    process.kill(-serve.pid, 'SIGTERM');
    await exited;
    serve.stdout.destroy();
    serve.stderr.destroy();
  }
  await upstreamWorker?.terminate();
  if (jcoDir) rmSync(jcoDir, { recursive: true, force: true });
});

// One request over a fresh connection; the answer's status, headers and JSON.
function send(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        try {
          resolve({ status: res.statusCode, headers: res.headers, json: JSON.parse(text) });
        } catch (e) {
          reject(new Error(`${path}: not JSON (${e.message}): ${text}`));
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const runCli = (...args) => JSON.parse(execFileSync(cli, args, { maxBuffer: 64 << 20 }));

// The snapshot without its collection time, which differs between calls.
function timeless(doc) {
  assert.equal(typeof doc.collected_at, 'string');
  const { collected_at: _, ...rest } = doc;
  return rest;
}

function assertProblem(answer, status, kind) {
  assert.equal(answer.status, status, JSON.stringify(answer.json));
  assert.equal(answer.headers['content-type'], 'application/problem+json');
  assert.equal(answer.json.error_kind, kind, JSON.stringify(answer.json));
  assert.equal(answer.json.status, status);
  assert.equal(answer.json.type, `urn:llm-metrics:problem:${kind}`);
  assert.ok(answer.json.detail.length > 0);
}

const q = encodeURIComponent;

test('jco serve: GET /engines is `llm-metrics engines`', async () => {
  const answer = await send('GET', '/engines');
  assert.equal(answer.status, 200);
  assert.equal(answer.headers['content-type'], 'application/json');
  assert.deepEqual(answer.json, runCli('engines'));
});

test('jco serve: POST /map is `llm-metrics map` for every fixture', async () => {
  const names = readdirSync(fixtures).filter((n) => n.endsWith('.prom'));
  assert.ok(names.length >= 9);
  // Names too generic to detect are read only with the engine requested.
  const requested = { 'trtllm_serve_unprefixed.prom': 'trtllm-serve' };
  for (const name of names) {
    const engine = requested[name] ?? 'auto';
    const answer = await send('POST', `/map?instance_id=pod-7&engine=${engine}`, fixture(name));
    assert.equal(answer.status, 200, `${name}: ${JSON.stringify(answer.json)}`);
    const expected = runCli('map', '--instance-id', 'pod-7', '--engine', engine, join(fixtures, name));
    assert.deepEqual(timeless(answer.json), timeless(expected), name);
  }
  const raw = await send('POST', '/map?raw=true&engine=vllm', fixture('vllm_v1.prom'));
  assert.ok(raw.json.raw_metrics.some((f) => f.name === 'vllm:num_requests_running'));
});

test('jco serve: GET /collect from a loopback server is `llm-metrics collect`', async () => {
  const url = `${upstream}/metrics`;
  const answer = await send('GET', `/collect?url=${q(url)}&engine=vllm`);
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  assert.equal(answer.json.endpoint, url);
  assert.equal(answer.json.instance_id, new URL(upstream).host);
  assert.deepEqual(timeless(answer.json), timeless(runCli('collect', '--engine', 'vllm', url)));
  const named = await send('GET', `/collect?url=${q(url)}&instance_id=gpu-3`);
  assert.equal(named.json.instance_id, 'gpu-3');
});

test('jco serve: upstream failures are typed problems', async () => {
  const missing = await send('GET', `/collect?url=${q(`${upstream}/missing`)}`);
  assertProblem(missing, 502, 'http-status');
  assert.match(missing.json.detail, /404/);
  const started = Date.now();
  const stalled = await send('GET', `/collect?url=${q(`${upstream}/stall`)}&timeout_ms=500`);
  assertProblem(stalled, 504, 'timeout');
  assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  assertProblem(await send('GET', '/collect?url=ftp%3A%2F%2Fx%2F'), 422, 'invalid-url');
});

test('jco serve: request errors are typed problems', async () => {
  const url = q(`${upstream}/metrics`);
  assertProblem(await send('GET', `/collect?url=${url}&engine=nope`), 404, 'unknown-engine');
  assertProblem(await send('POST', '/map?engine=nope', fixture('tgi.prom')), 404, 'unknown-engine');
  assertProblem(await send('GET', '/collect'), 400, 'missing-parameter');
  assertProblem(await send('GET', `/collect?url=${url}&timeout_ms=soon`), 400, 'invalid-parameter');
  assertProblem(await send('POST', '/map?url=http://x/'), 400, 'invalid-parameter');
  const bad = await send('POST', '/map', 'metric{le="1" 2\n');
  assertProblem(bad, 422, 'parse');
  assert.match(bad.json.detail, /line 1, column/);
  assertProblem(await send('POST', '/map', Buffer.alloc((16 << 20) + 1, '#')), 413, 'body-too-large');
  assertProblem(await send('GET', '/'), 404, 'not-found');
  const wrong = await send('GET', '/map');
  assertProblem(wrong, 405, 'method-not-allowed');
  assert.equal(wrong.headers.allow, 'POST');
});
