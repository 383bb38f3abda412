/**
 * Calls to an external system through the sidecar, against real Envoy: a
 * local HTTPS server with its own CA stands in for the clearinghouse.
 * grant-pay (which declares the call and is allowed) reaches it over TLS its
 * sidecar originates and verifies; a declared system whose certificate does
 * not carry the declared name is refused at the handshake; a host the mesh
 * does not declare, and impact-calc (which declares no such call), are
 * refused by the sidecar with `x-mesh-error: no-route`.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { explainCall } from '../../src/review/explain';
import { loadForReview } from '../../src/review/load';
import { eventually, runningSkip } from './harness';
import { outboundPost, standInSuite, type Seen } from './stand-in';

const MESH = path.join(__dirname, '..', '..', '..', 'test', 'envoy-real', 'fixtures', 'egress');

describe('real Envoy (local): calls to external systems', { concurrency: 1, skip: runningSkip('local') }, () => {
  const seen: Seen[] = [];
  const setup = standInSuite(MESH, ['clearinghouse', 'rogue'], seen);

  const node = (name: string) => setup().runtime.nodes.find((n) => n.node === name)!;
  const call = (from: string, host: string) => outboundPost(node(from).outboundPort, host, '{"usd": 1}');

  test('grant-pay reaches the declared external system over TLS its sidecar originates and verifies (SNI and Host are the real name)', { timeout: 60_000 }, async () => {
    const r = await eventually('grant-pay -> clearinghouse answers 200', 30_000, async () => {
      const a = await call('grant-pay', 'clearinghouse');
      return a.status === 200 ? a : undefined;
    });
    assert.equal(r.body, 'cleared');
    assert.deepEqual(seen.at(-1), { host: 'clearinghouse.example.gov', sni: 'clearinghouse.example.gov', bytes: 10 });
    const byHost = await call('grant-pay', 'clearinghouse.example.gov');
    assert.equal(byHost.status, 200, 'the real host name is a declared domain too');
  });

  test('a declared system whose certificate does not carry the declared name is refused at the handshake', { timeout: 30_000 }, async () => {
    const before = seen.length;
    const r = await call('grant-pay', 'rogue');
    assert.equal(r.status, 503, JSON.stringify(r));
    assert.equal(seen.length, before, 'no request reached the server');
  });

  test('an undeclared host, and impact-calc (no such call declared), are refused by the sidecar: 404 x-mesh-error no-route, as mesh explain says', { timeout: 30_000 }, async () => {
    const before = seen.length;
    // mesh explain on the mesh the sidecars run (the test rewrote its ports and ca_file).
    const loaded = loadForReview(setup().runtime.meshDir, { allowSemanticErrors: true });
    assert.ok(loaded.ok);
    const explain = (from: string, host: string) => explainCall({ model: loaded.input.model, compiled: loaded.input.compiled }, from, host, { method: 'POST', path: '/clear' });
    for (const [from, host] of [['grant-pay', 'evil.example.com'], ['grant-pay', '127.0.0.1'], ['impact-calc', 'clearinghouse'], ['impact-calc', 'clearinghouse.example.gov']] as const) {
      const r = await call(from, host);
      assert.equal(r.status, 404, `${from} -> ${host}: ${JSON.stringify(r)}`);
      assert.equal(r.meshError, 'no-route', `${from} -> ${host}`);
      const e = explain(from, host);
      assert.ok('kind' in e && e.kind === 'external', `${from} -> ${host}`);
      assert.equal(e.verdict, 'no-route', `${from} -> ${host}: ${e.reason}`);
      assert.deepEqual(e.refusal, { status: r.status, meshError: r.meshError }, `${from} -> ${host}`);
    }
    for (const host of ['clearinghouse', 'clearinghouse.example.gov']) {
      const ok = explain('grant-pay', host);
      assert.equal(ok.verdict, 'allowed', `explain grant-pay -> ${host}, which answered 200 above: ${ok.reason}`);
      assert.ok('kind' in ok && ok.route?.tls?.sni === 'clearinghouse.example.gov' && ok.route.hostRewrite === 'clearinghouse.example.gov', JSON.stringify(ok));
    }
    assert.equal(seen.length, before, 'nothing reached the external server');
  });
});
