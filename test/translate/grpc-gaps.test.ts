import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grpcPolicyGaps } from '../../src/translate';
import { ceqModel } from './fixture-model';
import { grpcModel } from './fixture-grpc';

test('grpc gaps: each unenforceable policy is reported with service, policy, proposal and position', () => {
  const gaps = grpcPolicyGaps(grpcModel()).map((g) => [g.service, g.target, g.policy, g.proposal, `${g.pos.file}:${g.pos.line}`]);
  assert.deepEqual(gaps, [
    ['audit', 'ledgers', 'control_plane.grpc_xds_port', 'A65', 'services/audit.yml:4'],
    ['audit', 'audit', 'rate_limits', 'A39', 'mesh_policies.yml:44'],
    ['ledger', 'grant-pay', 'circuit_breakers.max_failures', 'A50', 'mesh_policies.yml:4'],
    ['ledger', 'ledgers', 'control_plane.grpc_xds_port', 'A65', 'services/ledger.yml:4'],
    ['ledger', 'grant-pay', 'retries.per_try_timeout', 'A44', 'mesh_policies.yml:20'],
    ['ledger', 'grant-pay', 'retries.retry_on', 'A44', 'mesh_policies.yml:21'],
    ['report', 'ledgers', 'control_plane.grpc_xds_port', 'A65', 'services/report.yml:4'],
  ]);
});

test('grpc gaps: the retry_on reason names what is dropped and what remains', () => {
  const g = grpcPolicyGaps(grpcModel()).find((x) => x.policy === 'retries.retry_on')!;
  assert.match(g.reason, /5xx ignored, retrying only on unavailable/);
});

test('grpc gaps: Envoy-only meshes have none', () => {
  assert.deepEqual(grpcPolicyGaps(ceqModel()), []);
});
