/**
 * Retries as the policy language states them, against real Envoy: a retry
 * never runs work the policy did not declare safe to repeat. A POST the app
 * answers slowly (past `per_try_timeout`) reaches the app exactly once; a GET
 * is cut at the per-try timeout and retried; a call whose connection fails
 * (it never reached the app) is retried for every method; and
 * `retry_non_idempotent: true`, applied live, makes the POST retried too.
 *
 * The callee's app is an HTTP server in this process that counts what
 * reaches it per method.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { probe, type ProbeResult } from '../../src/compose/probe';
import { Registration } from '../../src/sdk/registration';
import { editPolicies, statSum } from './envoy-admin';
import { applyAndWait, eventually, runningSkip, setUp, upInSync, type Setup } from './harness';

const MESH = path.join(__dirname, '..', '..', '..', 'test', 'envoy-real', 'fixtures', 'retries');
const SLOW_MS = 700; // past per_try_timeout (300ms), within the request timeout (3s)

describe('real Envoy (local): retries never repeat a non-idempotent request the app may be working on', { concurrency: 1, skip: runningSkip('local') }, () => {
  let setup: Setup;
  let server: http.Server;
  const registrations: Registration[] = [];
  let delayMs = 0;
  const received: Record<string, number> = {};

  const manifest = (name: string): { port: number; mesh_port: number } => parse(fs.readFileSync(path.join(setup.runtime.meshDir, 'services', `${name}.yml`), 'utf8'));
  const register = async (port: number): Promise<Registration> => {
    const svc = path.join(setup.pkiDir, 'svc', 'bank');
    const r = new Registration({
      adminUrl: await setup.runtime.controlPlaneAdminUrl(),
      trustDomain: 'retries.test',
      files: { chain: path.join(svc, 'chain.pem'), key: path.join(svc, 'key.pem'), trustBundle: path.join(setup.pkiDir, 'trust-bundle.pem') },
      instance: { service: 'bank', version: 'v1', address: '127.0.0.1', port },
      ttlMs: 60_000,
    });
    await r.start();
    registrations.push(r);
    return r;
  };

  before(async () => {
    setup = await setUp('local', undefined, MESH);
    server = http.createServer((req, res) => {
      received[req.method ?? '?'] = (received[req.method ?? '?'] ?? 0) + 1;
      req.resume();
      req.on('end', () => setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'), delayMs));
    });
    await new Promise<void>((r) => server.listen(manifest('bank').port, '127.0.0.1', () => r()));
    await upInSync(setup);
    await register(manifest('bank').mesh_port);
    await eventually('payer -> bank answers 200', 60_000, async () => ((await call('GET')).status === 200 ? true : undefined));
  }, { timeout: 300_000 });

  after(async () => {
    for (const r of registrations) await r.stop().catch(() => undefined);
    await setup?.runtime.down();
    server?.close();
    if (setup && process.env.HMS_ENVOY_KEEP !== '1') fs.rmSync(setup.workDir, { recursive: true, force: true });
  }, { timeout: 120_000 });

  const payer = () => setup.runtime.nodes.find((n) => n.node === 'payer')!;
  const call = (method: string): Promise<ProbeResult> => probe({ host: '127.0.0.1', port: payer().outboundPort, authority: 'bank', method, path: '/pay', ...(method === 'POST' ? { json: { usd: 1 } } : {}) });
  /** What reached the app for one call of `method`, waiting until late attempts are in. */
  const reached = async (method: string): Promise<{ result: ProbeResult; count: number }> => {
    const before = received[method] ?? 0;
    const result = await call(method);
    // Attempts cut by the per-try timeout were already sent: the count is final once the call is answered.
    return { result, count: (received[method] ?? 0) - before };
  };

  test('a POST answered past per_try_timeout reaches the app exactly once and succeeds; a GET is cut and retried (1 + 2 tries)', { timeout: 60_000 }, async () => {
    delayMs = SLOW_MS;
    const post = await reached('POST');
    assert.equal(post.count, 1, 'the POST reached the app once');
    assert.equal(post.result.status, 200, 'and was not cut at the per-try timeout');
    assert.ok(post.result.ms >= SLOW_MS - 50, `it took the app's time: ${post.result.ms} ms`);
    const get = await reached('GET');
    assert.equal(get.count, 3, 'the GET was tried 1 + 2 times');
    assert.equal(get.result.status, 504, JSON.stringify(get.result));
    delayMs = 0;
  });

  test('a call whose connection fails (the request never left) is retried for every method', { timeout: 60_000 }, async () => {
    // A second instance nothing listens on: connections to it are refused.
    const dead = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const stats = async (): Promise<number> => statSum(await setup.runtime.admin('payer', '/stats'), /^cluster\.outbound\|bank\.upstream_cx_connect_fail$/);
    const failsBefore = await stats();
    await register(dead);
    await eventually('payer sees two instances of bank', 30_000, async () => ((await setup.runtime.admin('payer', '/clusters')).includes(`outbound|bank::127.0.0.1:${dead}::`) ? true : undefined));
    const results: ProbeResult[] = [];
    for (let i = 0; i < 10; i++) results.push(await call(i % 2 === 0 ? 'POST' : 'GET'));
    assert.deepEqual(results.map((r) => r.status), Array(10).fill(200), 'every call succeeded');
    assert.ok((await stats()) > failsBefore, 'some tries went to the dead instance and were retried elsewhere');
    await registrations.pop()!.stop();
    await eventually('the dead instance is gone', 30_000, async () => (!(await setup.runtime.admin('payer', '/clusters')).includes(`127.0.0.1:${dead}::`) ? true : undefined));
  });

  test('retry_non_idempotent: true, applied live, retries the slow POST too', { timeout: 120_000 }, async () => {
    editPolicies(setup.runtime.meshDir, (doc) => doc.setIn(['retries', 'bank', 'retry_non_idempotent'], true));
    await applyAndWait(setup);
    delayMs = SLOW_MS;
    const post = await reached('POST');
    delayMs = 0;
    assert.equal(post.count, 3, 'opted in: the POST was tried 1 + 2 times');
    assert.equal(post.result.status, 504);
  });
});
