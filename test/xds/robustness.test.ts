/**
 * Bad clients close their own stream with a status and nothing else: other
 * streams and the server stay healthy. Also: shared encodings, coalescing,
 * and the 4 MiB response limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { readMeshSources } from '../../src/xds/control-plane';
import { ResourceEncoder } from '../../src/xds/prepared';
import { buildNodeSnapshot, checkSnapshot, MAX_RESPONSE_BYTES } from '../../src/xds/snapshot';
import { AdsTestClient, decodeSotw, TYPE } from '../helpers/ads-client';
import { copyExample } from '../helpers/mesh-dir';
import { startTestPlane } from '../helpers/control-plane';

const IC = { id: 'impact-calc' };

async function healthyAfter(client: AdsTestClient): Promise<void> {
  const s = client.sotw();
  s.send({ node: { id: 'grant-pay' }, type_url: TYPE.clusters });
  const r = decodeSotw(await s.next());
  assert.deepEqual(r.names, ['inbound|15090|local']);
  s.cancel();
}

test('malformed, oversized and out-of-order requests close only their stream, with a status', async () => {
  const { dir, cleanup } = copyExample();
  const plane = await startTestPlane({ meshDir: dir, insecure: true });
  const client = new AdsTestClient(`127.0.0.1:${plane.ports.xds}`);
  try {
    // A bystander stream that must survive everything below.
    const bystander = client.sotw();
    bystander.send({ node: IC, type_url: TYPE.clusters });
    const b0 = decodeSotw(await bystander.next());

    // 1. Bytes that are not a DiscoveryRequest.
    const raw = client.rawSotw();
    const rawStatus = new Promise<grpc.StatusObject>((resolve) => raw.on('status', resolve));
    raw.on('error', () => undefined);
    raw.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x08]));
    const st1 = await rawStatus;
    assert.notEqual(st1.code, grpc.status.OK);

    // 2. Oversized: 2 MiB of resource names.
    const big = client.sotw();
    big.send({ node: IC, type_url: TYPE.endpoints, resource_names: Array.from({ length: 2048 }, (_, i) => `n${i}`.padEnd(1024, 'x')) });
    assert.equal((await big.closed).code, grpc.status.RESOURCE_EXHAUSTED);

    // 3. First request without a node.
    const anon = client.sotw();
    anon.send({ type_url: TYPE.clusters });
    const st3 = await anon.closed;
    assert.equal(st3.code, grpc.status.INVALID_ARGUMENT);
    assert.match(st3.details, /must carry node\.id/);

    // 4. Out of order: a request without the nonce after a response was sent.
    const ooo = client.sotw();
    ooo.send({ node: IC, type_url: TYPE.listeners });
    await ooo.next();
    ooo.send({ type_url: TYPE.listeners });
    const st4 = await ooo.closed;
    assert.equal(st4.code, grpc.status.INVALID_ARGUMENT);
    assert.match(st4.details, /without response_nonce/);

    // 5. A node id that changes mid-stream.
    const flip = client.sotw();
    flip.send({ node: IC, type_url: TYPE.clusters });
    await flip.next();
    flip.send({ node: { id: 'grant-pay' }, type_url: TYPE.listeners });
    assert.equal((await flip.closed).code, grpc.status.INVALID_ARGUMENT);

    // 6. A missing type_url.
    const untyped = client.sotw();
    untyped.send({ node: IC, type_url: '' });
    assert.equal((await untyped.closed).code, grpc.status.INVALID_ARGUMENT);

    // The bystander still works: ACK, then a change reaches it.
    bystander.send({ type_url: TYPE.clusters, version_info: b0.version_info, response_nonce: b0.nonce });
    for (let i = 0; i < 100 && plane.cp.status.get('impact-calc')?.types.clusters?.ackedVersion !== b0.version_info; i++) await new Promise((r) => setTimeout(r, 10));
    const fs = await import('node:fs');
    const p = `${dir}/mesh_policies.yml`;
    fs.writeFileSync(p, fs.readFileSync(p, 'utf8').replace('max_failures: 3', 'max_failures: 6'));
    assert.equal(plane.cp.apply(readMeshSources(dir), dir).ok, true);
    const b1 = decodeSotw(await bystander.next());
    assert.notEqual(b1.version_info, b0.version_info);
    await healthyAfter(client);
    assert.ok(plane.cp.metrics.streamErrors >= 4);
    bystander.cancel();
  } finally {
    client.close();
    await plane.stop();
    cleanup();
  }
});

test('each resource is encoded once and its bytes are shared by every node that has it', async () => {
  const { dir, cleanup } = copyExample();
  const plane = await startTestPlane({ meshDir: dir, insecure: true });
  try {
    const a = plane.cp.cache.get('impact-calc')!;
    // Re-applying the same sources encodes nothing new.
    const before = (plane.cp as unknown as { encoder: ResourceEncoder }).encoder.encodings;
    assert.equal(plane.cp.apply(readMeshSources(dir), dir).ok, true);
    assert.equal((plane.cp as unknown as { encoder: ResourceEncoder }).encoder.encodings, before);
    // Same Buffer object, not an equal copy, after the re-apply.
    const again = plane.cp.cache.get('impact-calc')!;
    assert.equal(again.types.clusters.resources.get('outbound|public-docs')!.any, a.types.clusters.resources.get('outbound|public-docs')!.any);
  } finally {
    await plane.stop();
    cleanup();
  }
  // Identical resources of two nodes share one encoding.
  const enc = new ResourceEncoder();
  const cluster = { '@type': TYPE.clusters, name: 'outbound|x', type: 'EDS', eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } } };
  const s1 = buildNodeSnapshot('a', 'envoy', { listeners: [], routes: [], clusters: [cluster], endpoints: [], secrets: [] }, enc);
  const s2 = buildNodeSnapshot('b', 'envoy', { listeners: [], routes: [], clusters: [{ ...cluster }], endpoints: [], secrets: [] }, enc);
  assert.equal(enc.encodings, 1);
  assert.equal(s1.types.clusters.resources.get('outbound|x')!.sotwFrame, s2.types.clusters.resources.get('outbound|x')!.sotwFrame);
});

test('a burst of registry changes is coalesced into one push per stream', async () => {
  const { dir, cleanup } = copyExample();
  const plane = await startTestPlane({ meshDir: dir, insecure: true });
  const client = new AdsTestClient(`127.0.0.1:${plane.ports.xds}`);
  try {
    const s = client.sotw();
    s.send({ node: IC, type_url: TYPE.endpoints, resource_names: ['outbound|grant-pay|v2'] });
    const r0 = decodeSotw(await s.next());
    s.send({ type_url: TYPE.endpoints, version_info: r0.version_info, response_nonce: r0.nonce, resource_names: ['outbound|grant-pay|v2'] });
    await new Promise((r) => setTimeout(r, 50));
    // 20 registrations in one tick.
    for (let i = 0; i < 20; i++) plane.cp.registry.register({ service: 'grant-pay', version: 'v2', address: '127.0.0.1', port: 20000 + i, ttlMs: 60_000 });
    const r1 = decodeSotw(await s.next());
    const localities = r1.resources[0]!.endpoints as Array<{ locality: { zone: string }; lb_endpoints: unknown[] }>;
    assert.equal(localities.find((l) => l.locality.zone === 'registry')!.lb_endpoints.length, 20);
    assert.ok(await s.quiet(300), 'one push for the whole burst');
    s.cancel();
  } finally {
    client.close();
    await plane.stop();
    cleanup();
  }
});

test('a snapshot needing a DiscoveryResponse over 4 MiB is reported, naming the node and the type', () => {
  const enc = new ResourceEncoder();
  const endpoints = Array.from({ length: 8 }, (_, c) => ({
    '@type': TYPE.endpoints,
    cluster_name: `c${c}`,
    endpoints: [{ locality: { zone: 'z' }, lb_endpoints: Array.from({ length: 30_000 }, (_, i) => ({ endpoint: { address: { socket_address: { address: `10.${c}.${i >> 8}.${i & 255}`, port_value: 8080 } } } })) }],
  }));
  const snap = buildNodeSnapshot('big-node', 'envoy', { listeners: [], routes: [], clusters: [], endpoints, secrets: [] }, enc);
  assert.ok(snap.types.endpoints.bytes > MAX_RESPONSE_BYTES);
  const problems = checkSnapshot(snap);
  assert.equal(problems.length, 1);
  assert.equal(problems[0]!.node, 'big-node');
  assert.equal(problems[0]!.kind, 'endpoints');
  assert.match(problems[0]!.message, /endpoints of node big-node need \d+ bytes in one response; gRPC clients accept at most 4194304/);
});
