/**
 * xDS protocol behaviour of our ADS server, driven by a small client on the
 * official protos (test/helpers/ads-client.ts): ACK/NACK, stale nonces,
 * named and wildcard subscriptions, removal, reconnect, delta, unknown nodes.
 * Plaintext (--insecure) here: authentication has its own tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { readMeshSources } from '../../src/xds/control-plane';
import { AdsTestClient, decodeDelta, decodeSotw, TYPE } from '../helpers/ads-client';
import { copyExample } from '../helpers/mesh-dir';
import { startTestPlane, tmp } from '../helpers/control-plane';

async function withPlane(fn: (ctx: { dir: string; plane: Awaited<ReturnType<typeof startTestPlane>>; client: AdsTestClient }) => Promise<void>, storeDir?: string): Promise<void> {
  const { dir, cleanup } = copyExample();
  const plane = await startTestPlane({ meshDir: dir, insecure: true, ...(storeDir ? { storeDir } : {}) });
  const client = new AdsTestClient(`127.0.0.1:${plane.ports.xds}`);
  try {
    await fn({ dir, plane, client });
  } finally {
    client.close();
    await plane.stop();
    cleanup();
  }
}

function edit(dir: string, file: string, from: string, to: string): void {
  const p = path.join(dir, file);
  const text = fs.readFileSync(p, 'utf8');
  assert.ok(text.includes(from), `${file} has no ${from}`);
  fs.writeFileSync(p, text.replace(from, to));
}

const IC = { id: 'impact-calc', cluster: 'impact-calc' };

/** An ACK travels asynchronously; wait until the server has seen it before changing the snapshot. */
async function acked(plane: Awaited<ReturnType<typeof startTestPlane>>, node: string, kind: 'listeners' | 'clusters' | 'routes', version: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (plane.cp.status.get(node)?.types[kind]?.ackedVersion === version) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`${node} never ACKed ${kind} ${version}`);
}

test('SotW: wildcard CDS, ACK recorded, nothing resent after the ACK', async () => {
  await withPlane(async ({ plane, client }) => {
    const s = client.sotw();
    s.send({ node: IC, type_url: TYPE.clusters });
    const r = decodeSotw(await s.next());
    assert.deepEqual(r.names, ['inbound|15081|local', 'outbound|grant-pay|v1', 'outbound|grant-pay|v2', 'outbound|public-docs']);
    assert.equal(r.type_url, TYPE.clusters);
    s.send({ type_url: TYPE.clusters, version_info: r.version_info, response_nonce: r.nonce });
    assert.ok(await s.quiet(300), 'an ACK gets no response');
    const st = plane.cp.status.get('impact-calc')!.types.clusters!;
    assert.equal(st.ackedVersion, r.version_info);
    s.cancel();
  });
});

test('SotW: named subscriptions (EDS) get only what they name; an unknown name is simply absent', async () => {
  await withPlane(async ({ client }) => {
    const s = client.sotw();
    s.send({ node: IC, type_url: TYPE.endpoints, resource_names: ['outbound|grant-pay|v2', 'no-such-cluster'] });
    const r = decodeSotw(await s.next());
    assert.deepEqual(r.names, ['outbound|grant-pay|v2']);
    const lb = (r.resources[0]!.endpoints as Array<{ lb_endpoints: unknown[] }>)[0]!.lb_endpoints;
    assert.equal(lb.length, 1);
    s.cancel();
  });
});

const IN = ['inbound|15081'];

test('SotW: a stale nonce is ignored; a NACK keeps the last good version, is recorded, and is not answered', async () => {
  await withPlane(async ({ dir, plane, client }) => {
    const s = client.sotw();
    // A rate limit is the inbound route's config (RDS), so rps edits change `routes`.
    s.send({ node: IC, type_url: TYPE.routes, resource_names: IN });
    const first = decodeSotw(await s.next());
    s.send({ type_url: TYPE.routes, version_info: first.version_info, response_nonce: first.nonce, resource_names: IN });
    await acked(plane, 'impact-calc', 'routes', first.version_info);
    edit(dir, 'mesh_policies.yml', 'rps: 50', 'rps: 70');
    assert.equal(plane.cp.apply(readMeshSources(dir), dir).ok, true);
    const second = decodeSotw(await s.next());
    assert.notEqual(second.version_info, first.version_info);
    // A request carrying the old nonce is stale: no response, and it does not count as an ACK.
    const staleBefore = plane.cp.metrics.staleNonces;
    s.send({ type_url: TYPE.routes, version_info: first.version_info, response_nonce: first.nonce, resource_names: IN });
    assert.ok(await s.quiet(300));
    assert.equal(plane.cp.metrics.staleNonces, staleBefore + 1);
    assert.equal(plane.cp.status.get('impact-calc')!.types.routes!.ackedVersion, first.version_info);
    // NACK the new version: recorded with the message, nothing resent, the node stays on the first version.
    s.send({ type_url: TYPE.routes, resource_names: IN, version_info: first.version_info, response_nonce: second.nonce, error_detail: { code: 3, message: 'route rejected by test' } });
    assert.ok(await s.quiet(300), 'a NACK is not answered with the same version');
    const status = plane.cp.statusReport().nodes.find((n) => n.node === 'impact-calc')!;
    assert.equal(status.nacked, true);
    assert.equal(status.types.routes!.acked, first.version_info);
    assert.deepEqual({ version: status.types.routes!.lastNack!.version, message: status.types.routes!.lastNack!.message }, { version: second.version_info, message: 'route rejected by test' });
    // The next good change is pushed again.
    edit(dir, 'mesh_policies.yml', 'rps: 70', 'rps: 80');
    assert.equal(plane.cp.apply(readMeshSources(dir), dir).ok, true);
    const third = decodeSotw(await s.next());
    assert.notEqual(third.version_info, second.version_info);
    s.cancel();
  });
});

test('SotW: a resource removed from the snapshot disappears from the node (absent from the next wildcard response)', async () => {
  await withPlane(async ({ dir, plane, client }) => {
    const s = client.sotw();
    s.send({ node: IC, type_url: TYPE.clusters });
    const r = decodeSotw(await s.next());
    assert.ok(r.names.includes('outbound|public-docs'));
    s.send({ type_url: TYPE.clusters, version_info: r.version_info, response_nonce: r.nonce });
    edit(dir, 'services/impact-calc.yml', '  - public-docs\n', '');
    assert.equal(plane.cp.apply(readMeshSources(dir), dir).ok, true);
    const after = decodeSotw(await s.next());
    assert.deepEqual(after.names, ['inbound|15081|local', 'outbound|grant-pay|v1', 'outbound|grant-pay|v2']);
    s.cancel();
  });
});

test('SotW: clusters are pushed before listeners, endpoints before routes, when one apply changes them all', async () => {
  await withPlane(async ({ dir, plane, client }) => {
    const s = client.sotw();
    const acks: Record<string, string> = {};
    // Subscribe in the "wrong" order on purpose.
    for (const [type, names] of [[TYPE.routes, ['outbound', 'inbound|15081']], [TYPE.listeners, []], [TYPE.endpoints, ['outbound|grant-pay|v1', 'outbound|grant-pay|v2', 'outbound|public-docs']], [TYPE.clusters, []]] as const) {
      s.send({ node: IC, type_url: type, resource_names: [...names] });
      const r = decodeSotw(await s.next());
      s.send({ type_url: type, version_info: r.version_info, response_nonce: r.nonce, resource_names: [...names] });
      acks[type] = r.version_info;
    }
    // A new split version changes clusters, endpoints, routes; a new outbound port changes listeners.
    edit(dir, 'mesh_policies.yml', 'v1: 90\n      v2: 10', 'v2: 100');
    edit(dir, 'mesh.yml', 'outbound: 15001', 'outbound: 15002');
    assert.equal(plane.cp.apply(readMeshSources(dir), dir).ok, true);
    const order: string[] = [];
    for (let i = 0; i < 4; i++) order.push(decodeSotw(await s.next()).type_url);
    assert.deepEqual(order, [TYPE.clusters, TYPE.endpoints, TYPE.listeners, TYPE.routes]);
    s.cancel();
  });
});

test('SotW: after a CDS update, the next EDS request is answered even at the version the node has (cluster warming)', async () => {
  await withPlane(async ({ dir, plane, client }) => {
    const s = client.sotw();
    const eds = ['outbound|grant-pay|v1', 'outbound|grant-pay|v2', 'outbound|public-docs'];
    s.send({ node: IC, type_url: TYPE.clusters });
    const c1 = decodeSotw(await s.next());
    s.send({ type_url: TYPE.clusters, version_info: c1.version_info, response_nonce: c1.nonce });
    s.send({ type_url: TYPE.endpoints, resource_names: eds });
    const e1 = decodeSotw(await s.next());
    s.send({ type_url: TYPE.endpoints, version_info: e1.version_info, response_nonce: e1.nonce, resource_names: eds });
    assert.ok(await s.quiet(300), 'an EDS ACK is not answered');
    // A circuit breaker change: new clusters, same endpoints.
    edit(dir, 'mesh_policies.yml', 'max_failures: 3', 'max_failures: 4');
    assert.equal(plane.cp.apply(readMeshSources(dir), dir).ok, true);
    const c2 = decodeSotw(await s.next());
    assert.equal(c2.type_url, TYPE.clusters);
    assert.ok(await s.quiet(300), 'endpoints did not change, so nothing is pushed for them');
    s.send({ type_url: TYPE.clusters, version_info: c2.version_info, response_nonce: c2.nonce });
    // Envoy re-requests EDS for the warming clusters, at the version and nonce it has: that one is answered.
    s.send({ type_url: TYPE.endpoints, version_info: e1.version_info, response_nonce: e1.nonce, resource_names: eds });
    const e2 = decodeSotw(await s.next());
    assert.equal(e2.type_url, TYPE.endpoints);
    assert.equal(e2.version_info, e1.version_info);
    assert.deepEqual(e2.names, eds);
    // Its ACK is not answered again.
    s.send({ type_url: TYPE.endpoints, version_info: e2.version_info, response_nonce: e2.nonce, resource_names: eds });
    assert.ok(await s.quiet(300), 'the ACK of the warming answer is not answered');
    s.cancel();
  });
});

test('SotW: reconnecting with the versions it has, a node receives nothing new; a restarted server on the same store serves the same versions', async () => {
  const store = tmp('hms-store-');
  let versions: Record<string, string> = {};
  try {
    await withPlane(async ({ client }) => {
      const s = client.sotw();
      for (const type of [TYPE.clusters, TYPE.listeners]) {
        s.send({ node: IC, type_url: type });
        const r = decodeSotw(await s.next());
        versions[type] = r.version_info;
      }
      s.cancel();
      // Same server, new stream, announcing what it has.
      const again = client.sotw();
      for (const type of [TYPE.clusters, TYPE.listeners]) again.send({ node: IC, type_url: type, version_info: versions[type]! });
      assert.ok(await again.quiet(400), 'nothing resent on reconnect');
      again.cancel();
    }, store);
    // The store now holds the applied mesh: a fresh server (no mesh dir) restores it.
    const { startControlPlane } = await import('../../src/xds/serve');
    const { silentLogger } = await import('../../src/xds/log');
    const restarted = await startControlPlane({ storeDir: store, host: '127.0.0.1', xdsPort: 0, adminPort: 0, insecure: true, log: silentLogger });
    const client = new AdsTestClient(`127.0.0.1:${restarted.ports.xds}`);
    try {
      assert.equal(restarted.cp.cache.get('impact-calc')!.types.clusters.version, versions[TYPE.clusters]);
      const s = client.sotw();
      for (const type of [TYPE.clusters, TYPE.listeners]) s.send({ node: IC, type_url: type, version_info: versions[type]! });
      assert.ok(await s.quiet(400), 'a node reconnecting to the restarted server receives nothing new');
      // And a node that has nothing gets exactly those versions.
      const fresh = client.sotw();
      fresh.send({ node: IC, type_url: TYPE.clusters });
      assert.equal(decodeSotw(await fresh.next()).version_info, versions[TYPE.clusters]);
      s.cancel();
      fresh.cancel();
    } finally {
      client.close();
      await restarted.stop();
    }
  } finally {
    fs.rmSync(store, { recursive: true, force: true });
    versions = {};
  }
});

test('an unknown node gets a clear NOT_FOUND, not an empty config', async () => {
  await withPlane(async ({ client }) => {
    const s = client.sotw();
    s.send({ node: { id: 'grant-pai' }, type_url: TYPE.clusters });
    const status = await s.closed;
    assert.equal(status.code, grpc.status.NOT_FOUND);
    assert.match(status.details, /node "grant-pai" is not in the mesh \(known nodes: citizen-gw, grant-pay, impact-calc, public-docs\)/);
  });
});

test('delta: initial wildcard, then only what changed, removals named, and a reconnect with initial_resource_versions gets only the difference', async () => {
  await withPlane(async ({ dir, plane, client }) => {
    const d = client.delta();
    d.send({ node: IC, type_url: TYPE.clusters });
    const first = decodeDelta(await d.next());
    assert.deepEqual(first.resources.map((r) => r.name), ['inbound|15081|local', 'outbound|grant-pay|v1', 'outbound|grant-pay|v2', 'outbound|public-docs']);
    assert.deepEqual(first.removed_resources, []);
    d.send({ type_url: TYPE.clusters, response_nonce: first.nonce });
    const known = Object.fromEntries(first.resources.map((r) => [r.name, r.version]));

    // Circuit breaker change on grant-pay: only the two grant-pay clusters change.
    edit(dir, 'mesh_policies.yml', 'max_failures: 3', 'max_failures: 4');
    assert.equal(plane.cp.apply(readMeshSources(dir), dir).ok, true);
    const second = decodeDelta(await d.next());
    assert.deepEqual(second.resources.map((r) => r.name), ['outbound|grant-pay|v1', 'outbound|grant-pay|v2']);
    assert.deepEqual(second.removed_resources, []);
    d.send({ type_url: TYPE.clusters, response_nonce: second.nonce });

    // Removing the public-docs call: a named removal, nothing else.
    edit(dir, 'services/impact-calc.yml', '  - public-docs\n', '');
    assert.equal(plane.cp.apply(readMeshSources(dir), dir).ok, true);
    const third = decodeDelta(await d.next());
    assert.deepEqual(third.resources, []);
    assert.deepEqual(third.removed_resources, ['outbound|public-docs']);
    d.cancel();

    // Reconnect announcing the first versions: receive the two changed clusters and the removal only.
    const again = client.delta();
    again.send({ node: IC, type_url: TYPE.clusters, initial_resource_versions: known });
    const diff = decodeDelta(await again.next());
    assert.deepEqual(diff.resources.map((r) => r.name), ['outbound|grant-pay|v1', 'outbound|grant-pay|v2']);
    assert.deepEqual(diff.removed_resources, ['outbound|public-docs']);
    again.cancel();
  });
});

test('delta: named subscribe and unsubscribe; a name that does not exist is reported removed', async () => {
  await withPlane(async ({ client }) => {
    const d = client.delta();
    d.send({ node: IC, type_url: TYPE.endpoints, resource_names_subscribe: ['outbound|grant-pay|v2', 'ghost'] });
    const r = decodeDelta(await d.next());
    assert.deepEqual(r.resources.map((x) => x.name), ['outbound|grant-pay|v2']);
    assert.deepEqual(r.removed_resources, ['ghost']);
    d.send({ type_url: TYPE.endpoints, response_nonce: r.nonce, resource_names_unsubscribe: ['outbound|grant-pay|v2'], resource_names_subscribe: ['outbound|public-docs'] });
    const r2 = decodeDelta(await d.next());
    assert.deepEqual(r2.resources.map((x) => x.name), ['outbound|public-docs']);
    d.cancel();
  });
});
