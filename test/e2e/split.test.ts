/**
 * The v1/v2 canary split as a real grpc-js-xds client applies it (A28:
 * weighted_clusters, one random pick per call), and a live change of it.
 * Bounds are statistical: for n calls with probability p the count is
 * binomial, and we allow 5 standard deviations (a false failure about once
 * in 1.7 million runs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meshClient, startMember, startMesh, tally } from './harness';

const N = 400;

function assertShare(count: number, n: number, p: number, what: string): void {
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(count - n * p) <= 5 * sd, `${what}: ${count} of ${n}, expected ${n * p} ± ${Math.ceil(5 * sd)}`);
}

const policies = (v1: number, v2: number): string => `
access:
  grant-pay:
    allow: [impact-calc]
traffic:
  grant-pay:
    split:
      v1: ${v1}
      v2: ${v2}
`;

test('split: 90/10 holds over hundreds of calls; an apply to 10/90 changes it without restarting anything', { timeout: 90_000 }, async (t) => {
  const mesh = await startMesh({
    services: {
      'grant-pay': 'version: v2\nversions: [v1, v2]\nprotocol: grpc\nport: 9000\ncalls: []\n',
      'impact-calc': 'version: v1\nprotocol: grpc\nport: 8081\ncalls: [grant-pay]\n',
    },
    policies: policies(90, 10),
  });
  t.after(() => mesh.stop());
  const v1 = await startMember(mesh, { service: 'grant-pay', version: 'v1' });
  const v2 = await startMember(mesh, { service: 'grant-pay', version: 'v2' });
  const client = meshClient(mesh, 'impact-calc', 'grant-pay');

  const before = tally(await client.calls(N));
  assert.equal((before[v1.id] ?? 0) + (before[v2.id] ?? 0), N, `every call succeeded: ${JSON.stringify(before)}`);
  assertShare(before[v2.id] ?? 0, N, 0.1, 'v2 at 90/10');

  mesh.write('mesh_policies.yml', policies(10, 90));
  const applied = mesh.apply();
  assert.deepEqual(applied.changedNodes, ['impact-calc'], 'only the caller changes');
  await mesh.settled();
  const after = tally(await client.calls(N));
  assert.equal((after[v1.id] ?? 0) + (after[v2.id] ?? 0), N, `every call succeeded: ${JSON.stringify(after)}`);
  assertShare(after[v2.id] ?? 0, N, 0.9, 'v2 at 10/90');
  t.diagnostic(`observed v1/v2: before ${before[v1.id] ?? 0}/${before[v2.id] ?? 0}, after ${after[v1.id] ?? 0}/${after[v2.id] ?? 0} (of ${N})`);
});
