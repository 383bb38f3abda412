import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ceqModel } from './fixture-model';
import { grpcModel } from './fixture-grpc';
import { nodeOf, withPolicies } from './helpers';

test('access: the callee admits exactly the allowed callers, by SPIFFE ID, with the rule position', () => {
  const gp = nodeOf(ceqModel(), 'grant-pay');
  assert.deepEqual(gp.inbound.access.allowed, [
    {
      service: 'impact-calc',
      spiffeId: 'spiffe://ceq.gov/svc/impact-calc',
      from: { kind: 'file', pos: { file: 'mesh_policies.yml', line: 13, col: 13 } },
    },
  ]);
  assert.equal(gp.inbound.access.from.kind, 'file');
});

test('access: a service with no access policy admits nobody (builtin default deny)', () => {
  const ic = nodeOf(ceqModel(), 'impact-calc');
  assert.deepEqual(ic.inbound.access.allowed, []);
  assert.deepEqual(ic.inbound.access.from, { kind: 'builtin' });
});

test('access: a denied call edge compiles to nothing on the caller', () => {
  const model = withPolicies(ceqModel(), 'public-docs', (p) => ({ ...p, access: { allow: [] } }));
  const ic = nodeOf(model, 'impact-calc');
  assert.deepEqual(ic.outbound.virtualHosts.map((v) => v.name), ['grant-pay']);
  assert.ok(ic.clusters.every((c) => c.service !== 'public-docs'));
  assert.ok(ic.loadAssignments.every((l) => !l.clusterName.includes('public-docs')));
});

test('access: only ALLOWED upstreams get clusters (grpc fixture: report allows nobody)', () => {
  const ic = nodeOf(grpcModel(), 'impact-calc');
  assert.deepEqual(ic.clusters.map((c) => c.name), ['outbound|ledger']);
});

test('access: a rule naming an unknown service is skipped, not fatal', () => {
  const model = withPolicies(ceqModel(), 'grant-pay', (p) => ({
    ...p,
    access: { ...p.access, allow: [...p.access.allow, { caller: 'ghost', pos: { file: 'x', line: 1, col: 1 } }] },
  }));
  assert.deepEqual(nodeOf(model, 'grant-pay').inbound.access.allowed.map((a) => a.service), ['impact-calc']);
});

test('access: a call to an unknown service is skipped', () => {
  const base = ceqModel();
  const model = {
    ...base,
    services: base.services.map((s) =>
      s.name === 'impact-calc' ? { ...s, calls: [...s.calls, { target: 'nowhere', pos: { file: 'x', line: 1, col: 1 } }] } : s,
    ),
  };
  assert.deepEqual(nodeOf(model, 'impact-calc').outbound.virtualHosts.map((v) => v.name), ['grant-pay', 'public-docs']);
});
