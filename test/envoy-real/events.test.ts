/**
 * Mesh events from real Envoy sidecars (local processes) at a real HTTP
 * receiver in this process, declared as a webhook sink in mesh.yml and
 * applied with `mesh apply`: a request timeout (mesh.timeout, coalesced with
 * a count), a 429 of the callee's rate limit (mesh.rate_limited), a 403 of its
 * access policy (mesh.denied), the circuit opening and closing
 * (mesh.circuit_open / mesh.circuit_closed naming the instance); then the
 * receiver stopped for 10 s and restarted: every event the control plane
 * emitted arrives (as `mesh events` lists them), duplicates only with equal ids.
 *
 * The mesh is fixtures/tap (timeout 1s, rate limit 5 rps, circuit breaker
 * max_failures 3 / reset_seconds 2, bank allows payer only).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MeshEvent } from '../../src/events/cloudevent';
import { applyAndWait, eventually, mesh, runningSkip } from './harness';
import { receiver } from './receiver';
import { callBank, records, startTapWorld, stopTapWorld, TAP_MESH, type TapWorld } from './tap-world';

const SLOW_MS = 1500; // over bank's 1s request timeout
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('real Envoy (local): mesh events at a webhook', { concurrency: 1, skip: runningSkip('local', undefined, undefined, TAP_MESH) }, () => {
  let w: TapWorld;
  /** How many events the control plane had emitted when the webhook was applied (those before it had no sink to go to). */
  let beforeSink = 0;
  const rx = receiver();
  const payerId = 'spiffe://tap.test/svc/payer';
  const bankId = 'spiffe://tap.test/svc/bank';

  /** The events of a type and subject at the receiver, each id once. */
  const received = (type: string, subject: string): MeshEvent[] => [...new Map(rx.got.filter((e) => e.type === type && e.subject === subject).map((e) => [e.id, e])).values()];
  const arrives = (what: string, type: string, subject: string, ok: (es: MeshEvent[]) => boolean = (es) => es.length > 0, ms = 15_000): Promise<MeshEvent[]> =>
    eventually(`${what}: ${type} ${subject} at the receiver`, ms, async () => {
      const es = received(type, subject);
      return ok(es) ? es : undefined;
    });
  /** Every event the control plane emitted, as `mesh events --format json` prints them. */
  const listed = async (): Promise<MeshEvent[]> => {
    const rt = w.setup.runtime;
    const r = await mesh(['events', '--server', await rt.controlPlaneAdminUrl(), '--pki', w.setup.pkiDir, '--admin', 'ops', '--mesh', rt.meshDir, '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as MeshEvent);
  };
  /** A successful call: resets the outlier detector's consecutive failures between tests. */
  const ok = async (): Promise<void> => {
    const r = await eventually('payer -> bank answers 200', 10_000, async () => ((await callBank(w)).status === 200 ? true : undefined));
    assert.ok(r);
  };

  before(async () => {
    await rx.start();
    w = await startTapWorld();
    const file = path.join(w.setup.runtime.meshDir, 'mesh.yml');
    fs.appendFileSync(file, `events:\n  coalesce: 1s\n  sinks:\n    - webhook: http://127.0.0.1:${rx.port}/events\n`);
    beforeSink = (await listed()).length;
    await applyAndWait(w.setup);
  }, { timeout: 300_000 });
  after(async () => {
    await stopTapWorld(w);
    await rx.stop();
  }, { timeout: 120_000 });

  test('a caller the access policy does not allow: mesh.denied from the callee\'s inbound record', { timeout: 60_000 }, async () => {
    const r = await w.setup.runtime.inbound('bank', { identity: 'stranger' }, { path: '/pay/denied' });
    assert.equal(r.status, 403, JSON.stringify(r));
    const [e] = await arrives('a 403 of RBAC', 'mesh.denied', 'stranger->bank');
    assert.equal(e!.specversion, '1.0');
    assert.equal(e!.source, '/hms-svc/tap');
    assert.equal(e!.data.caller, 'spiffe://tap.test/svc/stranger');
    assert.equal(e!.data.callee, bankId);
    assert.equal(e!.data.reporter, 'bank');
    assert.equal(e!.data.status, 403);
    assert.match(String(e!.data.details), /^rbac_access_denied/);
  });

  test('two requests over the route timeout at once: one mesh.timeout for the pair, count 2', { timeout: 60_000 }, async () => {
    w.app.slowMs = SLOW_MS;
    const rs = await Promise.all([callBank(w, '/pay/slow-1'), callBank(w, '/pay/slow-2')]);
    w.app.slowMs = 0;
    assert.deepEqual(rs.map((r) => r.status), [504, 504], JSON.stringify(rs));
    const es = await arrives('two timeouts', 'mesh.timeout', 'payer->bank', (x) => x.reduce((n, e) => n + Number(e.data.count), 0) >= 2).catch(async (err: Error) => {
      const hops = (await records(w, 'limit=1000')).filter((r) => r.path.startsWith('/pay/slow'));
      throw new Error(`${err.message}; received: ${JSON.stringify(rx.got)}; the records: ${JSON.stringify(hops)}`);
    });
    assert.equal(es.length, 1, `coalesced into one event: ${JSON.stringify(es)}`);
    const e = es[0]!;
    assert.equal(e.data.count, 2);
    assert.equal(e.data.caller, payerId);
    assert.equal(e.data.callee, bankId);
    // The 1s timeout is on both sidecars' routes: whichever fires first reports it (the other sees a 504 or a disconnect).
    assert.ok(e.data.reporter === 'payer' || e.data.reporter === 'bank', String(e.data.reporter));
    assert.equal((e.data.trace_ids as string[]).length, 2);
    await ok();
  });

  test('a burst over the rate limit: every 429 counted in mesh.rate_limited', { timeout: 60_000 }, async () => {
    await sleep(1100); // a full bucket
    const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => callBank(w, `/pay/burst-${i}`)));
    const limited = rs.filter((r) => r.status === 429).length;
    assert.ok(limited >= 1, `some of 12 calls at once over 5 rps were limited: ${rs.map((r) => r.status).join(' ')}`);
    assert.ok(rs.every((r) => r.status === 200 || r.status === 429), rs.map((r) => r.status).join(' '));
    const es = await arrives('the 429s', 'mesh.rate_limited', 'payer->bank', (x) => x.reduce((n, e) => n + Number(e.data.count), 0) >= limited);
    assert.equal(es.reduce((n, e) => n + Number(e.data.count), 0), limited, 'each 429 once, in as many windows as it took');
    assert.ok(es.every((e) => e.data.reporter === 'bank' && e.data.status === 429 && e.data.caller === payerId), JSON.stringify(es));
    await sleep(1100);
  });

  test('the circuit opens (mesh.circuit_open) and closes again (mesh.circuit_closed), naming the instance', { timeout: 60_000 }, async () => {
    const instance = `127.0.0.1:${w.bankMeshPort}`;
    w.app.failing = true;
    for (let i = 0; i < 3; i++) assert.equal((await callBank(w, `/pay/fail-${i}`)).status, 500);
    const open = await eventually('a call fails fast with x-mesh-error: circuit-open', 5_000, async () => {
      const r = await callBank(w, '/pay/open');
      return r.status === 503 && r.headers?.['x-mesh-error'] === 'circuit-open' ? r : undefined;
    });
    assert.ok(open);
    w.app.failing = false;
    await eventually('the circuit closes after reset_seconds', 10_000, async () => ((await callBank(w, '/pay/closed')).status === 200 ? true : undefined));
    const [opened] = await arrives('the circuit opened', 'mesh.circuit_open', 'payer->bank').catch(async (err: Error) => {
      const hops = (await records(w, 'limit=1000')).filter((r) => r.path === '/pay/open' || r.path === '/pay/closed');
      throw new Error(`${err.message}; the records: ${JSON.stringify(hops)}`);
    });
    const [closed] = await arrives('the circuit closed', 'mesh.circuit_closed', 'payer->bank');
    assert.equal(received('mesh.circuit_open', 'payer->bank').length, 1, 'one opening, one event');
    assert.equal(opened!.data.service, 'bank');
    assert.equal(opened!.data.instance, instance, 'the instance that failed');
    assert.match(String(opened!.data.reason), /no healthy upstream/);
    assert.equal(closed!.data.service, 'bank');
    assert.equal(closed!.data.instance, instance, 'the instance answering again');
    assert.ok(Date.parse(closed!.time) > Date.parse(opened!.time));
    assert.notEqual(opened!.id, closed!.id);
  });

  test('the receiver stopped for 10 s and restarted: every event arrives, duplicates only with equal ids', { timeout: 90_000 }, async () => {
    await rx.stop();
    const downAt = Date.now();
    const before = (await listed()).length;
    const denied = await w.setup.runtime.inbound('bank', { identity: 'stranger' }, { path: '/pay/while-down' });
    assert.equal(denied.status, 403);
    w.app.slowMs = SLOW_MS;
    assert.equal((await callBank(w, '/pay/slow-while-down')).status, 504);
    w.app.slowMs = 0;
    await ok();
    const emitted = await eventually('the control plane emitted both while the receiver was down', 10_000, async () => {
      const all = await listed();
      const fresh = all.slice(before);
      return fresh.some((e) => e.type === 'mesh.denied') && fresh.some((e) => e.type === 'mesh.timeout') ? all : undefined;
    });
    const freshIds = new Set(emitted.slice(before).map((e) => e.id));
    assert.ok([...freshIds].every((id) => !rx.got.some((e) => e.id === id)), 'nothing of it reached the stopped receiver');
    await sleep(Math.max(0, 10_000 - (Date.now() - downAt)));
    await rx.start();
    const all = (await listed()).slice(beforeSink);
    assert.ok(all.length >= 6, `the events of this suite: ${all.map((e) => e.type).join(' ')}`);
    await eventually('every emitted event at the receiver', 30_000, async () => (all.every((e) => rx.got.some((g) => g.id === e.id)) ? true : undefined)).catch((err: Error) => {
      throw new Error(`${err.message}; missing: ${JSON.stringify(all.filter((e) => !rx.got.some((g) => g.id === e.id)))}`);
    });
    const byId = new Map<string, MeshEvent>();
    for (const e of rx.got) {
      const seen = byId.get(e.id);
      if (seen) assert.deepEqual(e, seen, `a duplicate of ${e.id} is the same event`);
      else byId.set(e.id, e);
    }
    for (const e of all) assert.deepEqual(byId.get(e.id), e, `${e.type} ${e.subject} arrived as emitted`);
    assert.equal(new Set(all.map((e) => e.id)).size, all.length, 'distinct occurrences have distinct ids');
  });
});
