import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ceqModel } from './fixture-model';
import { nodeOf, withPolicies } from './helpers';

test('split: 90/10 makes one cluster per version and weighted targets with positions', () => {
  const vh = nodeOf(ceqModel(), 'impact-calc').outbound.virtualHosts.find((v) => v.name === 'grant-pay')!;
  assert.deepEqual(
    vh.targets.map((t) => [t.cluster, t.version, t.weight.value]),
    [
      ['outbound|grant-pay|v1', 'v1', 90],
      ['outbound|grant-pay|v2', 'v2', 10],
    ],
  );
  assert.deepEqual(vh.targets[0].weight.from, { kind: 'file', pos: { file: 'mesh_policies.yml', line: 33, col: 7 } });
  assert.equal(vh.split?.kind, 'file');
});

test('split: no split means one unversioned cluster at weight 100 (builtin)', () => {
  const vh = nodeOf(ceqModel(), 'impact-calc').outbound.virtualHosts.find((v) => v.name === 'public-docs')!;
  assert.deepEqual(vh.targets, [{ cluster: 'outbound|public-docs', weight: { value: 100, from: { kind: 'builtin' } } }]);
  assert.equal(vh.split, undefined);
});

test('split: a version at weight 0 gets no cluster', () => {
  const model = withPolicies(ceqModel(), 'grant-pay', (p) => ({
    ...p,
    split: { ...p.split!, weights: p.split!.weights.map((w) => ({ ...w, weight: w.version === 'v1' ? 100 : 0 })) },
  }));
  const ic = nodeOf(model, 'impact-calc');
  assert.deepEqual(ic.clusters.map((c) => c.name), ['outbound|grant-pay|v1', 'outbound|public-docs']);
});

test('endpoints: per-version clusters get only that version, unversioned ones all', () => {
  const ic = nodeOf(ceqModel(), 'impact-calc');
  const byName = new Map(ic.loadAssignments.map((l) => [l.clusterName, l.endpoints.map((e) => `${e.address}:${e.port}`)]));
  assert.deepEqual([...byName.keys()], ['outbound|grant-pay|v1', 'outbound|grant-pay|v2', 'outbound|public-docs']);
  assert.deepEqual(byName.get('outbound|grant-pay|v1'), []);
  assert.deepEqual(byName.get('outbound|grant-pay|v2'), ['127.0.0.1:15090']);
});

test('endpoints: duplicates are dropped and the rest sorted', () => {
  const base = ceqModel();
  const p = { file: 'x', line: 1, col: 1 };
  const model = {
    ...base,
    services: base.services.map((s) =>
      s.name === 'public-docs'
        ? { ...s, endpoints: [
            { address: '10.0.0.2', port: 1, version: 'v1', pos: p },
            { address: '10.0.0.1', port: 2, version: 'v1', pos: p },
            { address: '10.0.0.2', port: 1, version: 'v1', pos: p },
          ] }
        : s,
    ),
  };
  const la = nodeOf(model, 'impact-calc').loadAssignments.find((l) => l.clusterName === 'outbound|public-docs')!;
  assert.deepEqual(la.endpoints.map((e) => `${e.address}:${e.port}`), ['10.0.0.1:2', '10.0.0.2:1']);
});
