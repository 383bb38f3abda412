/** Register, heartbeat, expiry and deregister push endpoint updates to the callers of that service, and only to them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RESOURCE_KINDS } from '../../src/envoy/resources';
import { copyExample } from '../helpers/mesh-dir';
import { startTestPlane } from '../helpers/control-plane';
import { adminRequest } from '../../src/xds/admin-client';
import { decodeResource } from '../../src/validate/proto-codec';
import { envoyRoot } from '../../src/validate/proto-registry';
import { ControlPlane, readMeshSources } from '../../src/xds/control-plane';
import { registryAction } from '../../src/xds/admin';
import { silentLogger } from '../../src/xds/log';
import type { Instance } from '../../src/xds/registry';

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
    assert.match(metrics.body, /^hms_xds_nodes 4$/m); // three sidecars and the ingress gateway
    assert.equal((await adminRequest<string>({ server }, 'GET', '/healthz')).body, 'ok\n');
  } finally {
    await plane.stop();
    cleanup();
  }
});

function appliedPlane(example: string): { cp: ControlPlane; dir: string; cleanup: () => void } {
  const { dir, cleanup } = copyExample(example);
  const cp = new ControlPlane({ log: silentLogger });
  assert.equal(cp.apply(readMeshSources(dir), dir).ok, true);
  return { cp, dir, cleanup: () => (cp.close(), cleanup()) };
}

const allVersions = (cp: ControlPlane): Record<string, Record<string, string>> =>
  Object.fromEntries(cp.cache.nodes().map((n) => [n, Object.fromEntries(RESOURCE_KINDS.map((k) => [k, cp.cache.get(n)!.types[k].version]))]));

test('registry churn keeps no encoding of past endpoint sets: 1,000 register/deregister cycles leave the encoder as it was', () => {
  const { cp, cleanup } = appliedPlane('ceq');
  try {
    for (let i = 0; i < 50; i++) cp.registry.register({ service: 'grant-pay', version: 'v1', address: `10.1.0.${i}`, port: 15090, ttlMs: 60_000 });
    const settled = cp.encoderSize();
    const before = allVersions(cp);
    // A fresh address each cycle: every intermediate endpoint set is a new encoding.
    for (let c = 0; c < 1000; c++) {
      const inst = cp.registry.register({ service: 'grant-pay', version: 'v1', address: `10.2.${c >> 8}.${c & 255}`, port: 15090, ttlMs: 60_000 });
      assert.equal(cp.registry.deregister(inst.id, 'grant-pay'), true);
    }
    assert.equal(cp.encoderSize(), settled, 'one encoding per served resource, whatever the churn');
    assert.deepEqual(allVersions(cp), before, 'back to the very same versions');
  } finally {
    cleanup();
  }
});

test('a registry refresh gives the bytes and versions a full apply gives for the same instances (Envoy and proxyless nodes)', () => {
  for (const example of ['ceq', 'ceq-grpc']) {
    const { cp, dir, cleanup } = appliedPlane(example);
    try {
      const applied = allVersions(cp);
      const add = (version: string, address: string, port: number): Instance => cp.registry.register({ service: 'grant-pay', version, address, port, ttlMs: 60_000 });
      add('v1', '10.0.0.7', 15090);
      add('v2', '2001:db8::1', 9000);
      add('v2', '127.0.0.1', 15090); // a static endpoint of ceq's grant-pay: listed once
      const v2 = add('v2', '10.0.0.8', 9100); // in ceq-grpc: its own server listener (A36)
      add('v1', '::ffff:10.0.0.9', 65535);
      cp.registry.register({ service: 'public-docs', version: 'v1', address: '10.0.0.10', port: 8083 });
      cp.registry.deregister(v2.id, 'grant-pay');
      add('v2', '10.0.0.8', 9101);
      const refreshed = allVersions(cp);
      const bytes = cp.cache.get('impact-calc')!.types.endpoints.resources.get('outbound|grant-pay|v2')!.any;
      assert.notDeepEqual(refreshed, applied, 'the instances are in EDS');
      // The same sources again: every snapshot is built whole, with the same registry.
      const again = cp.apply(readMeshSources(dir), dir);
      assert.equal(again.ok, true);
      assert.deepEqual(again.changedNodes, [], `${example}: an apply finds nothing the registry refresh had not built the same way`);
      assert.deepEqual(allVersions(cp), refreshed);
      assert.ok(cp.cache.get('impact-calc')!.types.endpoints.resources.get('outbound|grant-pay|v2')!.any.equals(bytes));
      if (example === 'ceq') assert.deepEqual(registryHostsOf(cp, 'impact-calc', 'outbound|grant-pay|v2'), ['10.0.0.8:9101', '2001:db8::1:9000']);
    } finally {
      cleanup();
    }
  }
});

function registryHostsOf(cp: ControlPlane, node: string, cluster: string): string[] {
  const r = cp.cache.get(node)!.types.endpoints.resources.get(cluster)!;
  const a = envoyRoot().lookupType('google.protobuf.Any').decode(r.any) as unknown as { type_url: string; value: Uint8Array };
  const cla = decodeResource(a.type_url, a.value) as { endpoints?: Array<{ locality: { zone: string }; lb_endpoints: Array<{ endpoint: { address: { socket_address: { address: string; port_value: number } } } }> }> };
  const reg = (cla.endpoints ?? []).find((l) => l.locality.zone === 'registry');
  return (reg?.lb_endpoints ?? []).map((e) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`);
}

test('mesh.yml registry opt-ins: allow_link_local admits link-local but not metadata addresses; allow_metadata_addresses admits those', () => {
  const { cp, dir, cleanup } = appliedPlane('ceq');
  const register = (address: string): unknown => registryAction(cp, { kind: 'admin', name: 't' }, 'register', { service: 'grant-pay', version: 'v1', address, port: 15090 }, silentLogger);
  const refusedWith = (address: string): string | undefined => {
    try {
      register(address);
      return undefined;
    } catch (err) {
      return (err as { code?: string }).code;
    }
  };
  const withRegistry = (yaml: string): void => {
    const sources = readMeshSources(dir);
    assert.equal(cp.apply({ ...sources, 'mesh.yml': `${sources['mesh.yml']}\nregistry:\n${yaml}` }, dir).ok, true);
  };
  try {
    assert.equal(refusedWith('169.254.10.1'), 'MESH121', 'refused by default');
    withRegistry('  allow_link_local: true\n');
    assert.equal(refusedWith('169.254.10.1'), undefined);
    assert.equal(refusedWith('fe80::2'), undefined);
    assert.equal(refusedWith('169.254.169.254'), 'MESH121', 'metadata stays refused');
    withRegistry('  allow_metadata_addresses: true\n');
    assert.equal(refusedWith('169.254.169.254'), undefined);
    assert.equal(refusedWith('fd00:ec2::254'), undefined);
    assert.equal(refusedWith('169.254.10.2'), 'MESH121', 'each opt-in on its own');
    assert.equal(refusedWith('0.0.0.0'), 'MESH121', 'unspecified is never admitted');
  } finally {
    cleanup();
  }
});
