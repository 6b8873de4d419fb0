// The llm-metrics component in Node.js 20 through jco and
// @bytecodealliance/preview2-shim: parse, map and collect, with collect
// fetching from a real HTTP server on loopback.
//
// The component's `collect` blocks on `wasi:http` (the shim runs the request
// on a worker thread and waits for it synchronously), so the loopback server
// runs in a worker thread of its own: on the main thread its event loop
// would be stalled by that very wait.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startUpstream } from './upstream.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', 'fixtures');
const fixture = (name) => readFileSync(join(fixtures, name));

const full = await import('./gen/full/llm-metrics.js');
const mapperOnly = await import('./gen/mapper/llm-metrics.js');

let server;
let base;

before(async () => {
  ({ base, worker: server } = await startUpstream(fixture('vllm_v1.prom')));
});

after(async () => {
  await server.terminate();
});

test('the interfaces are exported under their versioned names (0.5.0)', () => {
  for (const name of ['parser', 'mapper', 'collector']) {
    assert.equal(full[`llm-metrics:plugin/${name}@0.5.0`], full[name], name);
  }
  assert.equal(typeof full['llm-metrics:plugin/parser@0.5.0'].parseCompact, 'function');
  assert.equal(mapperOnly['llm-metrics:plugin/mapper@0.5.0'], mapperOnly.mapper);
});

test('parse returns the families with typed samples', () => {
  const parsed = full.parser.parse(fixture('vllm_v1.prom'), { format: 'auto', strict: false });
  assert.equal(parsed.format, 'prometheus');
  const running = parsed.families.find((f) => f.name === 'vllm:num_requests_running');
  assert.equal(running.type, 'gauge');
  assert.ok(running.samples.length > 0);
  assert.equal(typeof running.samples[0].value, 'number');
  assert.ok(running.samples[0].labels.some((l) => l.name === 'model_name'));
});

// The families `parse` returns, read from `parseCompact`'s result: a span's
// offset counts in the text followed by `strings` (both as UTF-8 bytes).
function familiesFromCompact(text, compact) {
  const strings = new TextEncoder().encode(compact.strings);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const str = (span) => {
    if (span === undefined) return undefined;
    const within = span.offset < text.length ? text : strings;
    const at = span.offset < text.length ? span.offset : span.offset - text.length;
    return utf8.decode(within.subarray(at, at + span.len));
  };
  const labels = (start, len) =>
    compact.labels.slice(start, start + len).map((l) => ({ name: str(l.name), value: str(l.value) }));
  const sample = (s) => {
    const e = s.exemplar === undefined ? undefined : compact.exemplars[s.exemplar];
    return {
      name: str(s.name),
      labels: labels(s.labelsStart, s.labelsLen),
      value: s.value,
      timestampMs: s.timestampMs,
      exemplar: e && { labels: labels(e.labelsStart, e.labelsLen), value: e.value, timestampMs: e.timestampMs },
    };
  };
  return compact.families.map((f) => ({
    name: str(f.name),
    type: f.type,
    help: str(f.help),
    unit: str(f.unit),
    samples: compact.samples.slice(f.samplesStart, f.samplesStart + f.samplesLen).map(sample),
  }));
}

test('parseCompact reads as parse on every fixture', () => {
  const names = readdirSync(fixtures).filter((n) => n.endsWith('.prom'));
  assert.ok(names.length >= 9);
  for (const name of names) {
    const text = fixture(name);
    const options = { format: 'auto', strict: false };
    const parsed = full.parser.parse(text, options);
    const compact = full.parser.parseCompact(text, options);
    assert.equal(compact.format, parsed.format, name);
    assert.deepEqual(familiesFromCompact(text, compact), parsed.families, name);
  }
});

test('parseCompact: plain strings are spans of the text, escaped ones are in strings', () => {
  const text = new TextEncoder().encode('a{x="plain",y="esc\\\\"} 1\n');
  const compact = full.parser.parseCompact(text, { format: 'prometheus', strict: true });
  const [plain, escaped] = compact.labels.map((l) => l.value);
  assert.equal(new TextDecoder().decode(text.subarray(plain.offset, plain.offset + plain.len)), 'plain');
  assert.ok(escaped.offset >= text.length);
  assert.equal(compact.strings, 'esc\\');
});

test('a parse error carries line and column', () => {
  assert.throws(
    () => full.parser.parse(new TextEncoder().encode('ok 1\nbad{le="1" 2\n'), { format: 'prometheus', strict: true }),
    (err) => {
      assert.equal(err.payload.line, 2);
      assert.ok(err.payload.column > 1);
      assert.match(err.payload.message, /./);
      return true;
    },
  );
});

test('map gives the vLLM snapshot; absent fields are undefined, never 0', () => {
  const snap = full.mapper.mapExposition(fixture('vllm_v1.prom'), 'text/plain; version=0.0.4', 'auto', 'pod-1');
  assert.equal(snap.engine, 'vllm');
  assert.equal(snap.instanceId, 'pod-1');
  assert.equal(typeof snap.load.requestsRunning, 'number');
  assert.equal(typeof snap.load.kvCacheUsage, 'number');
  assert.ok(snap.modelNames.length > 0);

  const tgi = full.mapper.mapExposition(fixture('tgi.prom'), undefined, 'auto', 'tgi-1');
  assert.equal(tgi.engine, 'tgi');
  assert.deepEqual(tgi.modelNames, []);
  assert.equal(tgi.latency.timeToFirstTokenSeconds, undefined);
});

test('map errors are typed variants', () => {
  assert.throws(
    () => full.mapper.mapExposition(new TextEncoder().encode('go_goroutines 7\n'), undefined, 'auto', 'x'),
    (err) => err.payload.tag === 'unrecognized-engine',
  );
  assert.throws(
    () => full.mapper.mapExposition(fixture('tgi.prom'), undefined, 'nope', 'x'),
    (err) => err.payload.tag === 'unknown-engine',
  );
});

test('engines lists every engine id', () => {
  const ids = full.mapper.engines().map((e) => e.id);
  for (const id of ['vllm', 'tgi', 'sglang', 'llamacpp', 'triton', 'trtllm-serve']) {
    assert.ok(ids.includes(id), `${id} in ${ids}`);
  }
});

test('collect fetches from a loopback server', () => {
  const url = `${base}/metrics`;
  const snap = full.collector.collect({
    url,
    instanceId: undefined,
    engine: 'auto',
    timeoutMs: 10000,
    maxBodyBytes: 16n << 20n,
    headers: [],
    includeRaw: false,
  });
  assert.equal(snap.engine, 'vllm');
  assert.equal(snap.endpoint, url);
  assert.equal(snap.instanceId, new URL(base).host);
  assert.equal(typeof snap.load.requestsWaiting, 'number');
});

test('collect reports a server status as a typed error', () => {
  assert.throws(
    () =>
      full.collector.collect({
        url: `${base}/missing`,
        engine: 'auto',
        timeoutMs: 10000,
        maxBodyBytes: 1048576n,
        headers: [],
        includeRaw: false,
      }),
    (err) => err.payload.tag === 'http-status' && err.payload.val === 404,
  );
});

test('collect gives up on a server that never answers, within its budget', () => {
  const started = Date.now();
  assert.throws(
    () =>
      full.collector.collect({
        url: `${base}/stall`,
        engine: 'auto',
        timeoutMs: 500,
        maxBodyBytes: 1048576n,
        headers: [],
        includeRaw: false,
      }),
    (err) => err.payload.tag === 'timeout',
  );
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
});

test('the mapper-only component maps without any wasi:http', () => {
  const snap = mapperOnly.mapper.mapExposition(fixture('sglang_v0_5.prom'), undefined, 'auto', 's');
  assert.equal(snap.engine, 'sglang');
  assert.equal(mapperOnly.collector, undefined);
});
