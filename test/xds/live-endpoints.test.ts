/** The registry's byte splice of a ClusterLoadAssignment is exactly what encoding the merged JSON gives. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileMesh } from '../../src/envoy/compile';
import type { JsonObject } from '../../src/envoy/proto-json';
import { lintMesh } from '../../src/lint';
import { toAny } from '../../src/validate/proto-codec';
import { encodeWithRegistryLocality, withRegistryLocality } from '../../src/xds/live-endpoints';
import type { Instance } from '../../src/xds/registry';
import { EXAMPLES_DIR } from '../../src/paths';
import * as path from 'node:path';

function compiledClas(): JsonObject[] {
  const out: JsonObject[] = [];
  for (const example of ['ceq', 'ceq-grpc']) {
    const model = lintMesh(path.join(EXAMPLES_DIR, example)).model!;
    for (const n of compileMesh(model, { bootstraps: false }).nodes) out.push(...(n.resources.endpoints as JsonObject[]));
  }
  return out;
}

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const ipv6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((p) => p.map((x) => x.toString(16)).join(':'));
const instance = fc.record({ address: fc.oneof(ipv4, ipv6, fc.constant('127.0.0.1')), port: fc.oneof(fc.integer({ min: 1, max: 65535 }), fc.constant(15090)) });

test('encodeWithRegistryLocality writes the bytes toAny gives for withRegistryLocality, for any instances', () => {
  const clas = compiledClas();
  assert.ok(clas.length >= 4);
  fc.assert(
    fc.property(fc.nat(clas.length - 1), fc.array(instance, { maxLength: 40 }), (which, raw) => {
      const cla = clas[which]!;
      const live: Instance[] = raw.map((r, i) => ({ id: `s@${r.address}:${r.port}#${i}`, service: 's', version: 'v1', address: r.address, port: r.port, registeredAt: 0, expiresAt: 0, ttlMs: 0 }));
      const expected = Buffer.from(toAny(withRegistryLocality(cla, live)).value);
      const w = encodeWithRegistryLocality(cla, live);
      if (!w) return assert.equal(withRegistryLocality(cla, live), cla, 'undefined only when nothing is added');
      const buf = Buffer.alloc(w.length + 3);
      w.write(buf, 3);
      assert.ok(buf.subarray(3).equals(expected), `${cla['cluster_name']} with ${live.length} instances`);
      assert.equal(w.typeUrl, cla['@type']);
    }),
    { numRuns: 300 },
  );
});
