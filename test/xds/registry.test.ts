/** Register, heartbeat, expiry and deregister push endpoint updates to the callers of that service, and only to them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RESOURCE_KINDS } from '../../src/envoy/resources';
import { copyExample } from '../helpers/mesh-dir';
import { startTestPlane } from '../helpers/control-plane';
import { adminRequest } from '../../src/xds/admin-client';
import { decodeResource } from '../../src/validate/proto-codec';
import { envoyRoot } from '../../src/validate/proto-registry';

function versions(plane: Awaited<ReturnType<typeof startTestPlane>>, node: string): Record<string, string> {
  const s = plane.cp.cache.get(node)!;
  return Object.fromEntries(RESOURCE_KINDS.map((k) => [k, s.types[k].version]));
}

function registryHosts(plane: Awaited<ReturnType<typeof startTestPlane>>, node: string, cluster: string): string[] {
  const r = plane.cp.cache.get(node)!.types.endpoints.resources.get(cluster);
  assert.ok(r, `${node} has no ${cluster}`);
  // Decode the bytes a node would receive: the Any, then the ClusterLoadAssignment inside it.
  const a = envoyRoot().lookupType('google.protobuf.Any').decode(r.any) as unknown as { type_url: string; value: Uint8Array };
  const cla = decodeResource(a.type_url, a.value) as { endpoints?: Array<{ locality: { zone: string }; lb_endpoints: Array<{ endpoint: { address: { socket_address: { address: string; port_value: number } } } }> }> };
  const reg = (cla.endpoints ?? []).find((l) => l.locality.zone === 'registry');
  return (reg?.lb_endpoints ?? []).map((e) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`);
}

test('registry changes reach the callers of the service only; expiry removes an instance whose heartbeats stop', async () => {
  const { dir, cleanup } = copyExample();
  const plane = await startTestPlane({ meshDir: dir, insecure: true });
  const server = `http://127.0.0.1:${plane.ports.admin}`;
  try {
    const before = { ic: versions(plane, 'impact-calc'), gp: versions(plane, 'grant-pay'), pd: versions(plane, 'public-docs') };
    const reg = await adminRequest<{ id: string; ttl_ms: number }>({ server }, 'POST', '/v1/registry/register', { service: 'grant-pay', version: 'v1', address: '127.0.0.1', port: 26001, ttl_ms: 400 });
    assert.equal(reg.status, 200);
    const after = { ic: versions(plane, 'impact-calc'), gp: versions(plane, 'grant-pay'), pd: versions(plane, 'public-docs') };
    assert.notEqual(after.ic.endpoints, before.ic.endpoints, 'the caller gets the new endpoint');
    assert.equal(after.ic.clusters, before.ic.clusters, 'only endpoints change');
    assert.deepEqual(after.gp, before.gp, 'grant-pay itself does not call grant-pay: untouched');
    assert.deepEqual(after.pd, before.pd, 'public-docs does not call grant-pay: untouched');
    assert.deepEqual(registryHosts(plane, 'impact-calc', 'outbound|grant-pay|v1'), ['127.0.0.1:26001']);
    assert.deepEqual(registryHosts(plane, 'impact-calc', 'outbound|grant-pay|v2'), [], 'a v1 instance is not in the v2 subset');

    // Heartbeats keep it alive past its TTL...
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await adminRequest({ server }, 'POST', '/v1/registry/heartbeat', { service: 'grant-pay', id: reg.body.id })).status, 200);
    }
    assert.deepEqual(registryHosts(plane, 'impact-calc', 'outbound|grant-pay|v1'), ['127.0.0.1:26001']);
    // ...and when they stop, it expires and disappears from EDS.
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual(registryHosts(plane, 'impact-calc', 'outbound|grant-pay|v1'), []);
    assert.equal(versions(plane, 'impact-calc').endpoints, before.ic.endpoints, 'back to the very same version');
    const hb = await adminRequest<{ error: string }>({ server }, 'POST', '/v1/registry/heartbeat', { service: 'grant-pay', id: reg.body.id });
    assert.equal(hb.status, 404);

    const metrics = await adminRequest<string>({ server }, 'GET', '/metrics');
    assert.match(metrics.body, /^hms_registry_instances 0$/m);
    assert.match(metrics.body, /^hms_xds_nodes 3$/m);
    assert.equal((await adminRequest<string>({ server }, 'GET', '/healthz')).body, 'ok\n');
  } finally {
    await plane.stop();
    cleanup();
  }
});
