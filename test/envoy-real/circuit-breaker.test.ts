/**
 * The circuit breaker as the policy language states it, against real Envoy:
 * `max_failures: 3` is three failed CALLS as the calling app sees them (each
 * made of 1 + 2 retried attempts here), for a service with a single instance;
 * while open, calls fail fast with `x-mesh-error: circuit-open` and never
 * reach the app; it closes after `reset_seconds`, and again after the same
 * time when it opens a second time (Envoy alone would double it).
 *
 * The callee's app is an HTTP server in this process, told to fail or not,
 * counting what reaches it.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { probe, type ProbeResult } from '../../src/compose/probe';
import type { Registration } from '../../src/sdk/registration';
import { HttpServiceClient } from '../../src/sdk/http';
import { statSum } from './envoy-admin';
import { eventually, registerInstance, runningSkip, setUp, upInSync, type Setup } from './harness';

const MESH = path.join(__dirname, '..', '..', '..', 'test', 'envoy-real', 'fixtures', 'breaker');
const MAX_FAILURES = 3;
const ATTEMPTS_PER_CALL = 3; // attempts: 2 retries after the first try
const RESET_MS = 2000;
const INTERVAL_MS = 1000; // the outlier sweep, which returns hosts (src/translate/circuit-breaker.ts)

describe('real Envoy (local): circuit breaker semantics', { concurrency: 1, skip: runningSkip('local') }, () => {
  let setup: Setup;
  let server: http.Server;
  let registration: Registration;
  let failing = false;
  let received = 0;

  before(async () => {
    setup = await setUp('local', undefined, MESH);
    const rt = setup.runtime;
    const manifest = (name: string): { port: number; mesh_port: number } => parse(fs.readFileSync(path.join(rt.meshDir, 'services', `${name}.yml`), 'utf8'));
    server = http.createServer((req, res) => {
      received++;
      req.resume();
      req.on('end', () => res.writeHead(failing ? 500 : 200, { 'content-type': 'text/plain' }).end(failing ? 'failing' : 'ok'));
    });
    await new Promise<void>((r) => server.listen(manifest('bank').port, '127.0.0.1', () => r()));
    await upInSync(setup);
    registration = await registerInstance(setup, 'breaker.test', { service: 'bank', version: 'v1', address: '127.0.0.1', port: manifest('bank').mesh_port });
    await eventually('payer -> bank answers 200', 60_000, async () => ((await call()).status === 200 ? true : undefined));
  }, { timeout: 300_000 });

  after(async () => {
    await registration?.stop().catch(() => undefined);
    await setup?.runtime.down();
    server?.close();
    if (setup && process.env.HMS_ENVOY_KEEP !== '1') fs.rmSync(setup.workDir, { recursive: true, force: true });
  }, { timeout: 120_000 });

  const payer = () => setup.runtime.nodes.find((n) => n.node === 'payer')!;
  const call = (): Promise<ProbeResult> => probe({ host: '127.0.0.1', port: payer().outboundPort, authority: 'bank', method: 'POST', path: '/pay', json: { usd: 1 } });
  const ejections = async (): Promise<number> => statSum(await setup.runtime.admin('payer', '/stats'), /^cluster\.outbound\|bank\.outlier_detection\.ejections_enforced_total$/);

  /** Fails `max_failures` calls (the last one opens the circuit); returns when it opened. */
  const openCircuit = async (): Promise<number> => {
    failing = true;
    const before = await ejections();
    for (let i = 1; i <= MAX_FAILURES; i++) {
      const got = received;
      const r = await call();
      assert.equal(r.status, 500, `call ${i} reached the app and failed: ${JSON.stringify(r)}`);
      assert.equal(received - got, ATTEMPTS_PER_CALL, `call ${i}: every attempt reached the app (1 + 2 retries)`);
      if (i < MAX_FAILURES) assert.equal(await ejections(), before, `${i} failed call(s) of ${MAX_FAILURES}: the circuit is still closed`);
    }
    await eventually('the third failed call opened the circuit', 2_000, async () => ((await ejections()) > before ? true : undefined));
    return Date.now();
  };

  /** While open: fast, marked, and nothing reaches the app. Then: how long until a call succeeds again. */
  const whileOpenThenClosed = async (openedAt: number): Promise<number> => {
    // The TypeScript SDK names it: the outcome an app branches on.
    const sdk = await new HttpServiceClient('bank', payer().outboundPort, false).post('/pay', { usd: 1 });
    assert.equal(sdk.status, 503);
    assert.equal(sdk.meshError, 'circuit-open', 'the SDK reports the open circuit');
    failing = false;
    const got = received;
    const fast: ProbeResult[] = [];
    for (;;) {
      const r = await call();
      if (r.status === 200) break;
      fast.push(r);
      assert.ok(Date.now() - openedAt < RESET_MS + INTERVAL_MS + 2000, 'the circuit closes');
      await new Promise((res) => setTimeout(res, 50));
    }
    const closedAfter = Date.now() - openedAt;
    assert.ok(fast.length > 0, `the circuit was open: ${(await setup.runtime.admin('payer', '/clusters')).split('\n').filter((l) => l.startsWith('outbound|bank')).join('\n')}`);
    for (const r of fast) {
      assert.equal(r.status, 503, JSON.stringify(r));
      assert.equal(r.headers?.['x-mesh-error'], 'circuit-open', JSON.stringify(r.headers));
      assert.ok(r.ms < 50, `failed fast: ${r.ms} ms`);
    }
    assert.equal(received - got, 1, 'while open nothing reached the app; the first call after it closed did');
    return closedAfter;
  };

  test(`max_failures ${MAX_FAILURES} failed calls (not attempts) open the circuit of a single-instance service; open, calls fail fast with x-mesh-error: circuit-open; it closes after reset_seconds`, { timeout: 60_000 }, async (t) => {
    const closedAfter = await whileOpenThenClosed(await openCircuit());
    t.diagnostic(`circuit closed ${closedAfter} ms after it opened (reset_seconds ${RESET_MS / 1000}, sweep ${INTERVAL_MS} ms)`);
    assert.ok(closedAfter >= RESET_MS - 100 && closedAfter <= RESET_MS + INTERVAL_MS + 500, `closed after ${closedAfter} ms`);
  });

  test('opened a second time, it closes after the same reset_seconds (Envoy alone would double it)', { timeout: 60_000 }, async (t) => {
    const closedAfter = await whileOpenThenClosed(await openCircuit());
    t.diagnostic(`second opening closed after ${closedAfter} ms`);
    assert.ok(closedAfter <= RESET_MS + INTERVAL_MS + 500, `closed after ${closedAfter} ms, not 2 x reset_seconds`);
  });
});
