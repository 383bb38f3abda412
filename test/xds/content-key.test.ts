/**
 * Content keys (src/xds/prepared.ts contentKey) stand for a resource in the
 * validation cache and the encoder: equal keys must mean equal content, and a
 * resource found by key must get the findings and bytes a fresh check and
 * encoding would give.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentKey, ResourceEncoder } from '../../src/xds/prepared';
import { validateNodeConfig, ValidationCache } from '../../src/validate/validate';
import { TYPE } from '../helpers/ads-client';

const cluster = (extra: Record<string, unknown>): Record<string, unknown> => ({
  '@type': TYPE.clusters,
  name: 'outbound|x',
  type: 'EDS',
  connect_timeout: '1s',
  eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
  ...extra,
});

const brief = (ds: readonly { code: string; severity: string; path?: string; message: string }[]): string[] => ds.map((d) => `${d.severity} ${d.code} ${d.path ?? ''} ${d.message}`);

test('equal content gives one key; a different value, or the same in another key order, never shares a wrong one', () => {
  assert.equal(contentKey(cluster({})), contentKey(cluster({})));
  assert.notEqual(contentKey(cluster({ connect_timeout: '2s' })), contentKey(cluster({})));
  // JSON.stringify writes NaN, Infinity and null alike: these must not share a key.
  const keys = [null, Number.NaN, Number.POSITIVE_INFINITY].map((v) => {
    try {
      return contentKey(cluster({ per_connection_buffer_limit_bytes: v }));
    } catch (err) {
      return `refused: ${(err as Error).message}`;
    }
  });
  assert.equal(new Set(keys).size, 3, keys.join(' | '));
  // Another key order is another key (a miss), and encodes to the same bytes and version.
  const reordered = Object.fromEntries(Object.entries(cluster({})).reverse());
  const enc = new ResourceEncoder();
  const a = enc.prepare('clusters', cluster({}) as never);
  const b = enc.prepare('clusters', reordered as never);
  assert.equal(a.version, b.version);
  assert.deepEqual(a.any, b.any);
});

test('a resource found in the validation cache gets the diagnostics of an uncached check', () => {
  const cache = new ValidationCache();
  const keyOf = (r: unknown): string => contentKey(r as object);
  const check = (c: Record<string, unknown>, cached: boolean): string[] =>
    brief(validateNodeConfig({ clusters: [c] }, { file: 'n/', complete: false, ...(cached ? { cache, keyOf } : {}) }));
  // Valid with null (proto3 JSON: unset), cached first; then values JSON.stringify writes as null.
  assert.deepEqual(check(cluster({ per_connection_buffer_limit_bytes: null }), true), []);
  for (const bad of [Number.NaN, -1, 'many']) {
    const c = cluster({ per_connection_buffer_limit_bytes: bad });
    let uncached: string[] | string;
    try {
      uncached = check(c, false);
    } catch (err) {
      uncached = `threw ${(err as Error).message}`;
    }
    let cached: string[] | string;
    try {
      cached = check(cluster({ per_connection_buffer_limit_bytes: bad }), true);
    } catch (err) {
      cached = `threw ${(err as Error).message}`;
    }
    assert.notDeepEqual(uncached, [], `${String(bad)} is refused`);
    assert.deepEqual(cached, uncached, `${String(bad)}: same diagnostics with the cache`);
  }
  // And twice from the cache, still refused.
  assert.notDeepEqual(check(cluster({ per_connection_buffer_limit_bytes: -1 }), true), []);
});

test('a route configuration found in the validation cache still has its cluster references checked on every node', () => {
  const cache = new ValidationCache();
  const keyOf = (r: unknown): string => contentKey(r as object);
  const routes = (): Record<string, unknown> => ({
    '@type': TYPE.routes,
    name: 'r',
    virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'outbound|x' } }] }],
  });
  const node = (withCluster: boolean, cached: boolean): string[] =>
    brief(validateNodeConfig({ routes: [routes()], clusters: withCluster ? [cluster({})] : [] }, { file: 'n/', complete: false, ...(cached ? { cache, keyOf } : {}) }));
  assert.deepEqual(node(true, true), []);
  const uncached = node(false, false);
  assert.ok(uncached.some((d) => d.includes('outbound|x')), uncached.join('\n'));
  // The route configuration is a hit now: its reference is replayed from the cached walk.
  assert.deepEqual(node(false, true), uncached);
});

test('a virtual host checked once for several route configurations gets, in each, the diagnostics and references of an uncached check', () => {
  const cache = new ValidationCache();
  const keyOf = (r: unknown): string => contentKey(r as object);
  // A bad virtual host: an unknown field, a negative timeout (Envoy's own duration range), a reference.
  const bad = (): Record<string, unknown> => ({
    name: 'bad',
    domains: ['bad'],
    routes: [{ match: { prefix: '/' }, route: { cluster: 'outbound|x', timeout: '-1s' }, nope: 1 }],
  });
  const good = (n: string): Record<string, unknown> => ({ name: n, domains: [n], routes: [{ match: { prefix: '/' }, route: { cluster: 'outbound|x' } }] });
  const rc = (name: string, hosts: Record<string, unknown>[]): Record<string, unknown> => ({ '@type': TYPE.routes, name, virtual_hosts: hosts });
  const nodes = [
    { routes: [rc('a', [bad(), good('g1')])], clusters: [cluster({})] },
    { routes: [rc('b', [good('g2'), bad()]), rc('c', [good('g3'), good('g4'), bad()])], clusters: [] },
  ];
  const uncached = nodes.map((n) => brief(validateNodeConfig(n, { file: 'n/', complete: false })));
  for (let round = 0; round < 2; round++) {
    const cached = nodes.map((n) => brief(validateNodeConfig(n, { file: 'n/', complete: false, cache, keyOf })));
    assert.deepEqual(cached, uncached, `round ${round}`);
  }
  // What the uncached check says, so the comparison above compares something.
  assert.ok(uncached[0]!.some((d) => d.includes('virtual_hosts[0].routes[0].nope')), uncached[0]!.join('\n'));
  assert.ok(uncached[1]!.some((d) => d.includes('routes[1].virtual_hosts[2].routes[0].route.timeout')), uncached[1]!.join('\n'));
  assert.ok(uncached[1]!.some((d) => d.includes('"outbound|x"')), uncached[1]!.join('\n'));
  assert.ok(!uncached[0]!.some((d) => d.includes('"outbound|x"')), uncached[0]!.join('\n'));
});
