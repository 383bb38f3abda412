import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  EncodeError,
  type JsonObject,
  decodeMessage,
  decodeResource,
  encodeMessage,
  encodeResource,
  resourceHash,
  toAny,
} from '../../src/validate';
import { FIXTURES, NODE_FILES, loadNode } from './helpers';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Every object's keys in reverse order, recursively (maps, Any and Struct included). */
function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)]));
}

/** The same config spelled with proto3 JSON lowerCamel names (Envoy accepts both). */
function camelKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(camelKeys);
  if (typeof v !== 'object' || v === null) return v;
  const isMapLike = (k: string): boolean => k.includes('.') || k.includes('|') || k.includes('-');
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [isMapLike(k) || k === '@type' ? k : k.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase()), camelKeys(x)]),
  );
}

const allResources = (): JsonObject[] => {
  const node = loadNode();
  return NODE_FILES.flatMap((f) => node[f].resources);
};

interface ReferenceCase {
  readonly name: string;
  readonly input: JsonObject;
  readonly hex: string;
  readonly decoded: JsonObject;
}
const reference: { cases: ReferenceCase[] } = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'reference-encoding.json'), 'utf8'));

describe('round trip: proto3 JSON -> bytes -> proto3 JSON', () => {
  for (const r of allResources()) {
    it(`${String(r['@type']).split('.').pop()} ${String(r['name'] ?? r['cluster_name'])}`, () => {
      const bytes = encodeResource(r);
      assert.ok(bytes.length > 0);
      assert.deepEqual(decodeResource(String(r['@type']), bytes), r);
    });
  }

  it('writes durations in canonical form, drops scalar defaults, keeps wrapper presence', () => {
    const cluster = { name: 'c', connect_timeout: '1.5s', alt_stat_name: '', per_connection_buffer_limit_bytes: 0, dns_refresh_rate: '0.000001s' };
    const decoded = decodeMessage('envoy.config.cluster.v3.Cluster', encodeMessage('envoy.config.cluster.v3.Cluster', cluster));
    // A UInt32Value of 0 is "set to 0", not "unset": it survives, the empty string does not.
    assert.deepEqual(decoded, { name: 'c', connect_timeout: '1.500s', per_connection_buffer_limit_bytes: 0, dns_refresh_rate: '0.000001s' });
  });
});

describe('encoding matches the C++ protobuf reference byte for byte', () => {
  for (const c of reference.cases) {
    it(`${c.name}`, () => {
      assert.equal(hex(encodeResource(c.input)), c.hex);
      assert.deepEqual(decodeResource(String(c.input['@type']), Buffer.from(c.hex, 'hex')), c.decoded);
    });
  }
});

describe('deterministic encoding', () => {
  it('encoding twice gives identical bytes', () => {
    for (const r of allResources()) assert.equal(hex(encodeResource(r)), hex(encodeResource(r)));
  });

  it('key order does not matter (fields, maps, Struct, Any)', () => {
    for (const r of [...allResources(), ...reference.cases.map((c) => c.input)]) {
      assert.equal(hex(encodeResource(reverseKeys(r) as JsonObject)), hex(encodeResource(r)));
    }
  });

  it('lowerCamel json names give the same bytes as proto names', () => {
    for (const r of allResources()) assert.equal(hex(encodeResource(camelKeys(r) as JsonObject)), hex(encodeResource(r)));
  });

  it('explicit defaults and 64-bit integers as numbers or strings give the same bytes', () => {
    const type = 'envoy.config.cluster.v3.Cluster';
    const plain = { name: 'c', lb_policy: 'LEAST_REQUEST', outlier_detection: { max_ejection_time_jitter: '1s' } };
    const noisy = { ...plain, alt_stat_name: '', respect_dns_ttl: false, ignore_health_on_host_removal: false, dns_lookup_family: 'AUTO' };
    assert.equal(hex(encodeMessage(type, noisy)), hex(encodeMessage(type, plain)));
    const rl = 'envoy.config.cluster.v3.Cluster.RingHashLbConfig';
    assert.equal(hex(encodeMessage(rl, { minimum_ring_size: 1024 })), hex(encodeMessage(rl, { minimum_ring_size: '1024' })));
  });

  it('map entries are written sorted by key', () => {
    const bytes = encodeMessage('google.protobuf.Struct', { zeta: 1, alpha: 2 });
    assert.ok(Buffer.from(bytes).indexOf('alpha') < Buffer.from(bytes).indexOf('zeta'));
  });

  it('resourceHash is a stable content version', () => {
    const [a, b] = allResources();
    assert.equal(resourceHash(a as JsonObject), resourceHash(reverseKeys(a) as JsonObject));
    assert.notEqual(resourceHash(a as JsonObject), resourceHash(b as JsonObject));
    assert.match(resourceHash(a as JsonObject), /^[0-9a-f]{64}$/);
  });

  it('toAny keeps the type URL and packs the inner message', () => {
    const r = allResources()[0] as JsonObject;
    const any = toAny(r);
    assert.equal(any.type_url, r['@type']);
    assert.equal(hex(any.value), hex(encodeResource(r)));
  });

  it('refuses input that does not validate (a caller bug)', () => {
    assert.throws(() => encodeResource({ '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', nme: 'x' }), EncodeError);
    assert.throws(() => encodeResource({ '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', connect_timeout: '5' }), /connect_timeout/);
    assert.throws(() => encodeResource({ '@type': 'type.googleapis.com/nope.Nope' }), EncodeError);
  });
});
