/**
 * Per-call deadlines against real Envoy (docs/sdk.md, "Deadlines"): payer
 * calls bank, whose policy timeout is 1 s; bank's app (in this process)
 * sleeps as long as the request asks.
 *
 * - The SDKs hand `timeout=` / `timeoutMs` to the caller's sidecar
 *   (x-envoy-upstream-rq-timeout-ms). Its outbound listener trusts the local
 *   app only, so a Python call with timeout=0.5 to a callee that sleeps 2 s is
 *   answered by the sidecar at ~0.5 s: 504, `x-mesh-error: timeout`, the
 *   typed `Timeout`; the callee saw the request. The TypeScript SDK likewise.
 * - A per-call deadline only shortens: asking for 8 s on a 1 s route is cut
 *   at ~1 s, not answered by the callee at 5 s: by the callee's own inbound
 *   timeout for a mesh service (504 `x-mesh-error: timeout` from its sidecar),
 *   and by the caller's deadline cap (max_stream_duration, src/envoy/deadline.ts)
 *   for an external system, where no sidecar of the mesh sits in front: a
 *   local TLS server stands in for the clearinghouse.
 * - The callee's inbound listener trusts no caller: a remote caller's
 *   x-envoy-upstream-rq-timeout-ms (with a forged x-forwarded-for: 127.0.0.1)
 *   neither shortens nor lengthens bank's own 1 s timeout.
 * - The local app's other x-envoy-* headers are stripped: it cannot add
 *   retries the policy does not declare (x-envoy-retry-on, x-envoy-max-retries).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { HttpServiceClient } from '../../src/sdk/http';
import type { Registration } from '../../src/sdk/registration';
import { pythonJson } from '../python/venv';
import { accessLogEntries, editPolicies } from './envoy-admin';
import { eventually, registerInstance, runningSkip, setUp, upInSync, type Setup } from './harness';
import { standInPki } from './stand-in';

const MESH = path.join(__dirname, '..', '..', '..', 'test', 'envoy-real', 'fixtures', 'deadlines');
/** Generous bounds for a loaded 2-core machine: what they rule out is the callee's own (much later) answer. */
const SLACK_MS = 1500;

interface PyCall { status: number; kind: string; mesh: string | null; trace: string; elapsed_ms: number }

describe('real Envoy (local): per-call deadlines reach the sidecar and only shorten the policy timeout', { concurrency: 1, skip: runningSkip('local') }, () => {
  let setup: Setup;
  let server: http.Server;
  let external: https.Server | undefined;
  let registration: Registration | undefined;
  /** What reached bank's app: the `id` query parameter and the headers. */
  const seen: { id: string; headers: http.IncomingHttpHeaders }[] = [];

  /** bank's app and the external system alike: answers `?status=` (200) after `?sleep=` ms, recording `?id=` and the headers. */
  const sleepy = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://app');
    seen.push({ id: url.searchParams.get('id') ?? '', headers: req.headers });
    const status = Number(url.searchParams.get('status') ?? 200);
    const timer = setTimeout(() => res.writeHead(status, { 'content-type': 'text/plain' }).end('paid'), Number(url.searchParams.get('sleep') ?? 0));
    res.on('close', () => clearTimeout(timer));
    req.resume();
  };
  const manifest = (name: string): { port: number; mesh_port: number } => parse(fs.readFileSync(path.join(setup.runtime.meshDir, 'services', `${name}.yml`), 'utf8'));
  const node = (name: string) => setup.runtime.nodes.find((n) => n.node === name)!;

  before(async () => {
    setup = await setUp('local', undefined, MESH);
    server = http.createServer(sleepy);
    await new Promise<void>((r) => server.listen(manifest('bank').port, '127.0.0.1', () => r()));
    const pki = await standInPki(path.join(setup.workDir, 'clearinghouse'));
    external = https.createServer({ cert: fs.readFileSync(pki.cert), key: fs.readFileSync(pki.key) }, sleepy);
    await new Promise<void>((r) => external!.listen(0, '127.0.0.1', () => r()));
    editPolicies(setup.runtime.meshDir, (doc) => {
      doc.setIn(['externals', 'clearinghouse', 'port'], (external!.address() as { port: number }).port);
      doc.setIn(['externals', 'clearinghouse', 'tls', 'ca_file'], pki.ca);
    });
    await upInSync(setup);
    registration = await registerInstance(setup, 'deadlines.test', { service: 'bank', version: 'v1', address: '127.0.0.1', port: manifest('bank').mesh_port });
    const client = new HttpServiceClient('bank', node('payer').outboundPort, false);
    await eventually('payer -> bank answers 200', 60_000, async () => ((await client.get('/ready?id=ready')).status === 200 ? true : undefined));
  }, { timeout: 300_000 });

  after(async () => {
    await registration?.stop().catch(() => undefined);
    await setup?.runtime.down();
    server?.close();
    external?.close();
    if (setup && process.env.HMS_ENVOY_KEEP !== '1') fs.rmSync(setup.workDir, { recursive: true, force: true });
  }, { timeout: 120_000 });

  /** One call with the Python SDK's client (the worktree's svcmesh), timed inside Python. */
  async function pyCall(pathAndQuery: string, timeoutS: number, callee = 'bank'): Promise<PyCall> {
    return pythonJson<PyCall>([
      'import json, sys, time',
      'from svcmesh._http import ServiceClient',
      `c = ServiceClient(${JSON.stringify(callee)}, ${node('payer').outboundPort})`,
      't = time.monotonic()',
      `r = c.get(${JSON.stringify(pathAndQuery)}, timeout=${timeoutS})`,
      'e = (time.monotonic() - t) * 1000',
      'print(json.dumps({"status": r.status_code, "kind": type(r.mesh_error).__name__, "mesh": r.headers.get("x-mesh-error"), "trace": r.headers["x-trace"], "elapsed_ms": e}))',
    ]);
  }

  test('Python: timeout=0.5 to a callee sleeping 2 s is the sidecar\'s 504 Timeout at ~0.5 s (UT in its access log); the callee saw the request', { timeout: 60_000 }, async () => {
    const r = await pyCall('/pay?sleep=2000&id=py-short', 0.5);
    assert.equal(r.status, 504, JSON.stringify(r));
    assert.equal(r.mesh, 'timeout');
    assert.equal(r.kind, 'Timeout');
    assert.ok(r.elapsed_ms >= 450 && r.elapsed_ms < 500 + SLACK_MS, `answered after ${r.elapsed_ms} ms`);
    assert.ok(seen.some((s) => s.id === 'py-short'), 'the callee saw the request');
    const entry = await eventually('the outbound access log line', 15_000, async () =>
      accessLogEntries(await setup.runtime.sidecarLog('payer')).find((e) => e['trace_id'] === r.trace && e['direction'] === 'outbound'));
    assert.match(String(entry['response_flags']), /UT/, 'the router timed out at the app\'s deadline (mesh.timeout counts it)');
  });

  test('Python: timeout=8 on a 1 s route does not lengthen it: the sidecar answers 504 Timeout at ~1 s, not the callee at 5 s', { timeout: 60_000 }, async () => {
    const r = await pyCall('/pay?sleep=5000&id=py-long', 8);
    assert.equal(r.status, 504, JSON.stringify(r));
    assert.equal(r.mesh, 'timeout');
    assert.equal(r.kind, 'Timeout');
    assert.ok(r.elapsed_ms >= 950 && r.elapsed_ms < 1000 + SLACK_MS, `answered after ${r.elapsed_ms} ms`);
  });

  test('an external system: timeout=0.3 is the sidecar\'s Timeout at ~0.3 s; timeout=8 is capped at the 1 s policy by the caller\'s sidecar alone', { timeout: 60_000 }, async () => {
    await eventually('payer -> clearinghouse answers 200', 30_000, async () => ((await pyCall('/clear?id=ext-ready', 5, 'clearinghouse')).status === 200 ? true : undefined));
    const short = await pyCall('/clear?sleep=2000&id=ext-short', 0.3, 'clearinghouse');
    assert.deepEqual([short.status, short.mesh, short.kind], [504, 'timeout', 'Timeout'], JSON.stringify(short));
    assert.ok(short.elapsed_ms >= 250 && short.elapsed_ms < 300 + SLACK_MS, `answered after ${short.elapsed_ms} ms`);
    const long = await pyCall('/clear?sleep=5000&id=ext-long', 8, 'clearinghouse');
    assert.deepEqual([long.status, long.mesh, long.kind], [504, 'timeout', 'Timeout'], JSON.stringify(long));
    assert.ok(long.elapsed_ms >= 950 && long.elapsed_ms < 1000 + SLACK_MS, `answered after ${long.elapsed_ms} ms`);
    assert.ok(seen.some((s) => s.id === 'ext-long'), 'the external system saw the request');
  });

  test('TypeScript: timeoutMs 500 is the sidecar\'s 504 meshError timeout; timeoutMs 8000 is cut at the 1 s policy', { timeout: 60_000 }, async () => {
    const client = new HttpServiceClient('bank', node('payer').outboundPort, false);
    const short = await client.get('/pay?sleep=2000&id=ts-short', { timeoutMs: 500 });
    assert.equal(short.status, 504, JSON.stringify(short));
    assert.equal(short.meshError, 'timeout', JSON.stringify(short));
    assert.ok(short.elapsedMs >= 450 && short.elapsedMs < 500 + SLACK_MS, `answered after ${short.elapsedMs} ms`);
    assert.ok(seen.some((s) => s.id === 'ts-short'));
    const long = await client.get('/pay?sleep=5000&id=ts-long', { timeoutMs: 8000 });
    assert.equal(long.status, 504, JSON.stringify(long));
    assert.equal(long.meshError, 'timeout', JSON.stringify(long));
    assert.ok(long.elapsedMs >= 950 && long.elapsedMs < 1000 + SLACK_MS, `answered after ${long.elapsedMs} ms`);
  });

  test('the app cannot add retries the policy does not declare: x-envoy-retry-on 5xx with x-envoy-max-retries 3 reaches the callee once, without them', { timeout: 60_000 }, async () => {
    const client = new HttpServiceClient('bank', node('payer').outboundPort, false);
    const r = await client.get('/pay?status=503&id=retry-forged', { headers: { 'x-envoy-retry-on': '5xx', 'x-envoy-max-retries': '3', 'x-envoy-upstream-rq-per-try-timeout-ms': '50' } });
    assert.equal(r.status, 503);
    const reached = seen.filter((s) => s.id === 'retry-forged');
    assert.equal(reached.length, 1, 'tried once: bank\'s policy has attempts: 0');
    assert.equal(reached[0]!.headers['x-envoy-retry-on'], undefined);
    assert.equal(reached[0]!.headers['x-envoy-max-retries'], undefined);
  });

  /** Straight to bank's inbound listener with payer's certificate: a remote caller choosing its own headers. */
  function remoteCall(query: string, headers: Record<string, string>): Promise<{ status: number; ms: number }> {
    const svc = path.join(setup.pkiDir, 'svc', 'payer');
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const req = https.request({
        host: '127.0.0.1', port: node('bank').inboundPort, path: `/pay?${query}`, method: 'GET', agent: false, servername: 'bank', headers,
        ca: fs.readFileSync(path.join(setup.pkiDir, 'trust-bundle.pem')), cert: fs.readFileSync(path.join(svc, 'chain.pem')), key: fs.readFileSync(path.join(svc, 'key.pem')),
      }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Date.now() - started }));
      });
      req.setTimeout(20_000, () => req.destroy(new Error('no answer within 20 s')));
      req.on('error', reject);
      req.end();
    });
  }

  test('the inbound listener ignores a remote caller\'s x-envoy-upstream-rq-timeout-ms (even with x-forwarded-for: 127.0.0.1): it neither shortens nor lengthens the callee\'s 1 s', { timeout: 60_000 }, async () => {
    const forged = { 'x-forwarded-for': '127.0.0.1' };
    const shorter = await remoteCall('sleep=600&id=remote-short', { ...forged, 'x-envoy-upstream-rq-timeout-ms': '100' });
    assert.equal(shorter.status, 200, 'not cut at the caller\'s 100 ms');
    assert.ok(shorter.ms >= 550, `took the app's time: ${shorter.ms} ms`);
    const reached = seen.find((s) => s.id === 'remote-short');
    assert.ok(reached, 'the callee saw it');
    assert.equal(reached.headers['x-envoy-upstream-rq-timeout-ms'], undefined, 'the header was stripped, not forwarded to the app');
    const longer = await remoteCall('sleep=5000&id=remote-long', { ...forged, 'x-envoy-upstream-rq-timeout-ms': '8000' });
    assert.equal(longer.status, 504, 'cut at bank\'s own 1 s, not lengthened to the caller\'s 8 s');
    assert.ok(longer.ms < 1000 + SLACK_MS, `answered after ${longer.ms} ms`);
  });
});
