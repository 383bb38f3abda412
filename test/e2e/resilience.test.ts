/**
 * Circuit breaking, retries and timeouts as a real grpc-js-xds client applies
 * them from our resources: outlier ejection (failure percentage, A50), the
 * route's retry policy (A44) and max_stream_duration (A31). Short policy
 * values keep it quick; nothing here asserts how fast anything is, only what
 * happened and in which order (a lower bound on the ejection time is the
 * policy's meaning, not a speed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { meshClient, sleep, startMember, startMesh, type Answer } from './harness';

const RESET_SECONDS = 2;
const MAX_FAILURES = 3;

const SERVICES = {
  'grant-pay': 'version: v1\nprotocol: grpc\nport: 9000\ncalls: []\n',
  ledger: 'version: v1\nprotocol: grpc\nport: 9100\ncalls: []\n',
  'impact-calc': 'version: v1\nprotocol: grpc\nport: 8081\ncalls: [grant-pay, ledger]\n',
};

const policies = (ledgerTimeout: string): string => `
access:
  grant-pay:
    allow: [impact-calc]
  ledger:
    allow: [impact-calc]
circuit_breakers:
  grant-pay:
    max_failures: ${MAX_FAILURES}
    reset_seconds: ${RESET_SECONDS}
retries:
  grant-pay:
    attempts: 0      # every failure is seen once by outlier detection
  ledger:
    attempts: 3
    retry_on: [unavailable]
timeouts:
  ledger:
    request: ${ledgerTimeout}
`;

interface Stamped extends Answer {
  readonly at: number;
}

test('resilience: a failing instance is ejected after max_failures failures, for reset_seconds, then returns', { timeout: 90_000 }, async (t) => {
  const mesh = await startMesh({ services: SERVICES, policies: policies('2s') });
  t.after(() => mesh.stop());
  const a = await startMember(mesh, { service: 'grant-pay', version: 'v1' });
  const b = await startMember(mesh, { service: 'grant-pay', version: 'v1' });
  const client = meshClient(mesh, 'impact-calc', 'grant-pay');
  const warm = await client.calls(20);
  assert.ok(warm.every((x) => x.code === 'OK') && a.hits > 0 && b.hits > 0, 'both instances serve before the failure');

  // A starts failing (its backend is down, say). Traffic keeps flowing: ~5 calls every 50 ms.
  let failing = true;
  a.handler = () => {
    if (failing) throw { code: grpc.status.INTERNAL, details: 'A: backend down' };
    return { ok: true, version: a.id };
  };
  const log: Stamped[] = [];
  const drive = async (until: () => boolean, maxMs: number): Promise<void> => {
    const stop = Date.now() + maxMs;
    while (!until() && Date.now() < stop) {
      const batch = await Promise.all(Array.from({ length: 5 }, () => client.call('HWY-94', 3000)));
      const at = Date.now();
      log.push(...batch.map((x) => ({ ...x, at })));
      await sleep(50);
    }
  };
  const fromA = (x: Answer): boolean => x.code === 'INTERNAL' || x.by === a.id;
  // Ejected: the last 40 calls all went to B.
  await drive(() => log.length > 40 && log.slice(-40).every((x) => x.by === b.id), 10_000);
  const failures = log.filter((x) => x.code === 'INTERNAL');
  assert.ok(log.slice(-40).every((x) => x.by === b.id), 'A was ejected');
  assert.ok(failures.length >= MAX_FAILURES, `ejected only after at least max_failures (${MAX_FAILURES}) failures, saw ${failures.length}`);
  const lastFailure = failures[failures.length - 1]!.at;

  // A recovers while ejected; it gets calls again once reset_seconds have passed.
  failing = false;
  const mark = log.length;
  await drive(() => log.slice(mark).some((x) => x.by === a.id), (RESET_SECONDS + 5) * 1000);
  const back = log.slice(mark).find((x) => x.by === a.id);
  assert.ok(back, 'A returned');
  const ejectedFor = back.at - lastFailure;
  assert.ok(ejectedFor >= RESET_SECONDS * 1000 - 100, `A was out for ${ejectedFor} ms, at least reset_seconds`);
  const during = log.slice(mark).filter((x) => x.at < back.at - 200);
  assert.ok(during.length > 0 && during.every((x) => x.by === b.id), 'while A was ejected every call succeeded on B');
  t.diagnostic(`failed calls before ejection: ${failures.length}; A ejected for ~${ejectedFor} ms (reset_seconds ${RESET_SECONDS}); calls during ejection: ${during.length}, all OK on B`);
  assert.equal(log.filter((x) => x.code !== 'OK' && !fromA(x)).length, 0, 'no other failures');
});

test('resilience: retries on UNAVAILABLE per the policy; the route timeout gives DEADLINE_EXCEEDED, and apply changes it live', { timeout: 90_000 }, async (t) => {
  const mesh = await startMesh({ services: SERVICES, policies: policies('300ms') });
  t.after(() => mesh.stop());
  const ledger = await startMember(mesh, { service: 'ledger', version: 'v1' });
  const attempts = new Map<string, number>();
  ledger.handler = async (req) => {
    const n = (attempts.get(req.project) ?? 0) + 1;
    attempts.set(req.project, n);
    if (req.project === 'flaky-2' && n <= 2) throw { code: grpc.status.UNAVAILABLE, details: `attempt ${n} refused` };
    if (req.project === 'down') throw { code: grpc.status.UNAVAILABLE, details: 'down' };
    if (req.project === 'internal') throw { code: grpc.status.INTERNAL, details: 'bug' };
    if (req.project.startsWith('slow')) await sleep(1000);
    return { ok: true, version: ledger.id };
  };
  const client = meshClient(mesh, 'impact-calc', 'ledger');

  assert.equal((await client.call('flaky-2')).code, 'OK', 'two UNAVAILABLE answers are retried away');
  assert.equal(attempts.get('flaky-2'), 3);
  assert.equal((await client.call('down')).code, 'UNAVAILABLE');
  assert.equal(attempts.get('down'), 4, 'attempts: 3 means 3 retries after the first try');
  assert.equal((await client.call('internal')).code, 'INTERNAL');
  assert.equal(attempts.get('internal'), 1, 'INTERNAL is not in retry_on');

  // The client sets a 5 s deadline; the mesh's 300 ms route timeout ends the call first.
  const slow = await client.call('slow', 5000);
  assert.equal(slow.code, 'DEADLINE_EXCEEDED', JSON.stringify(slow));

  // A longer timeout, applied live: the same channel now waits for the slow answer.
  mesh.write('mesh_policies.yml', policies('5s'));
  mesh.apply();
  await mesh.settled();
  const patient = await client.call('slow-again', 5000);
  assert.equal(patient.code, 'OK', JSON.stringify(patient));
});
