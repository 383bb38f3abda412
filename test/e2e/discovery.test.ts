/**
 * Discovery by name on a live data plane: a proxyless client (real
 * grpc-js-xds) calls xds:///grant-pay; the endpoints come from the registry,
 * where instances register over mTLS with their own certificates; an instance
 * whose heartbeats stop leaves EDS and stops receiving calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, freePorts, meshClient, startMember, startMesh, tally } from './harness';

test('discovery: xds:///grant-pay reaches registered instances; one whose heartbeats stop leaves EDS', { timeout: 90_000 }, async (t) => {
  // B runs on the manifest's port, whose server listener is compiled in: it keeps
  // serving after it leaves the registry, so only EDS can stop calls reaching it.
  const [portA, portB] = await freePorts(2);
  const mesh = await startMesh({
    services: {
      'grant-pay': `version: v1\nprotocol: grpc\nport: ${portB}\ncalls: []\n`,
      'impact-calc': 'version: v1\nprotocol: grpc\nport: 8081\ncalls: [grant-pay]\n',
    },
    policies: 'access:\n  grant-pay:\n    allow: [impact-calc]\n',
  });
  t.after(() => mesh.stop());

  const a = await startMember(mesh, { service: 'grant-pay', version: 'v1', port: portA, ttlMs: 60_000 });
  const b = await startMember(mesh, { service: 'grant-pay', version: 'v1', port: portB, ttlMs: 600 });
  assert.deepEqual(mesh.cp.registry.of('grant-pay').map((i) => i.port).sort(), [portA, portB].sort());

  // A's port is not the manifest's: the control plane serves it a listener of its own (A36).
  const listeners = [...mesh.cp.cache.get('grant-pay')!.types.listeners.resources.keys()];
  assert.ok(listeners.includes(`grpc/server?xds.resource.listening_address=0.0.0.0:${portA}`), listeners.join(', '));

  const client = meshClient(mesh, 'impact-calc', 'grant-pay');
  const first = tally(await client.calls(40));
  assert.deepEqual(Object.keys(first).sort(), [a.id, b.id].sort(), `both instances answer by name: ${JSON.stringify(first)}`);

  // EDS for impact-calc: the registered instances, in the registry locality.
  const eds = mesh.cp.cache.get('impact-calc')!.types.endpoints.resources.get('outbound|grant-pay');
  assert.ok(eds, 'impact-calc has the grant-pay ClusterLoadAssignment');

  // B stops heartbeating (its process hangs, say) but its server stays up.
  await b.registration!.stop(false);
  await eventually(() => mesh.cp.registry.of('grant-pay').length === 1, 5000, 'B expired from the registry');
  await mesh.settled();
  // Calls in flight may still land on B; after the client took the EDS update none do.
  await eventually(async () => (await client.calls(20)).every((x) => x.by === a.id), 5000, 'all calls answered by A');
  const hitsB = b.hits;
  const after = tally(await client.calls(40));
  assert.deepEqual(after, { [a.id]: 40 }, 'B left discovery');
  assert.equal(b.hits, hitsB, 'B, still serving, receives nothing');
});

test('discovery: an instance registered at a static endpoint address is listed once (grpc-js-xds NACKs duplicates)', { timeout: 90_000 }, async (t) => {
  const [port] = await freePorts(1);
  const mesh = await startMesh({
    services: {
      'grant-pay': `version: v1\nprotocol: grpc\nport: ${port}\nendpoints:\n  - address: 127.0.0.1\n    port: ${port}\ncalls: []\n`,
      'impact-calc': 'version: v1\nprotocol: grpc\nport: 8081\ncalls: [grant-pay]\n',
    },
    policies: 'access:\n  grant-pay:\n    allow: [impact-calc]\n',
  });
  t.after(() => mesh.stop());
  const gp = await startMember(mesh, { service: 'grant-pay', version: 'v1', port });
  const client = meshClient(mesh, 'impact-calc', 'grant-pay');
  assert.deepEqual(tally(await client.calls(5)), { [gp.id]: 5 });
  await mesh.settled();
  const status = mesh.cp.statusReport().nodes.find((n) => n.node === 'impact-calc')!;
  assert.equal(status.nacked, false, JSON.stringify(status.types));
  assert.equal(status.inSync, true);
});
