import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffJson, formatPath } from '../../src/review/diff/json-diff';

const paths = (a: unknown, b: unknown): string[] => diffJson(a, b).map((c) => `${c.op} ${formatPath(c.path)}`);

test('equal values have no changes; a changed leaf is reported at its path with old and new', () => {
  assert.deepEqual(diffJson({ a: { b: 1 } }, { a: { b: 1 } }), []);
  assert.deepEqual(diffJson({ a: { b: 1 } }, { a: { b: 2 } }), [{ path: [{ key: 'a' }, { key: 'b' }], op: 'changed', old: 1, new: 2 }]);
});

test('keys added and removed', () => {
  assert.deepEqual(paths({ a: 1, b: 2 }, { b: 2, c: 3 }), ['removed a', 'added c']);
});

test('named lists match by name: inserting one member is one addition, not a cascade', () => {
  const before = { virtual_hosts: [{ name: 'b', t: 1 }, { name: 'c', t: 1 }] };
  const after = { virtual_hosts: [{ name: 'a', t: 1 }, { name: 'b', t: 1 }, { name: 'c', t: 2 }] };
  assert.deepEqual(paths(before, after), ['added virtual_hosts[a]', 'changed virtual_hosts[c].t']);
});

test('a reordered named list is a change of the list itself (http_filters order is behaviour)', () => {
  const before = { http_filters: [{ name: 'rbac' }, { name: 'router' }] };
  const after = { http_filters: [{ name: 'router' }, { name: 'rbac' }] };
  const changes = diffJson(before, after);
  assert.equal(changes.length, 1);
  assert.deepEqual(changes[0], { path: [{ key: 'http_filters' }], op: 'changed', old: ['rbac', 'router'], new: ['router', 'rbac'] });
});

test('scalar lists change as a whole; unnamed object lists by position; ClusterLoadAssignment keys by cluster_name', () => {
  assert.deepEqual(paths({ domains: ['a', 'b'] }, { domains: ['a', 'c'] }), ['changed domains']);
  assert.deepEqual(paths({ eps: [{ p: 1 }] }, { eps: [{ p: 2 }, { p: 3 }] }), ['changed eps[0].p', 'added eps[1]']);
  assert.deepEqual(paths([{ cluster_name: 'x', e: 1 }], [{ cluster_name: 'x', e: 2 }]), ['changed [x].e']);
});

test('paths: identifiers dotted, other keys quoted, names in brackets', () => {
  assert.equal(formatPath([{ key: 'rules' }, { key: 'policies' }, { key: 'allow|a' }]), 'rules.policies["allow|a"]');
  assert.equal(formatPath([{ key: 'clusters' }, { name: 'outbound|x|v1' }, { key: 'weight' }]), 'clusters[outbound|x|v1].weight');
  assert.equal(formatPath([{ key: 'e' }, { index: 2 }]), 'e[2]');
  assert.equal(formatPath([]), '(whole resource)');
});
