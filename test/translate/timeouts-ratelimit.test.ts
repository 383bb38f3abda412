import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ceqModel } from './fixture-model';
import { grpcModel } from './fixture-grpc';
import { nodeOf } from './helpers';

test('timeouts: the callee timeout applies on the caller route and on the callee inbound', () => {
  const ic = nodeOf(ceqModel(), 'impact-calc');
  const t = Object.fromEntries(ic.outbound.virtualHosts.map((v) => [v.name, v.timeoutMs.value]));
  assert.deepEqual(t, { 'grant-pay': 2000, 'public-docs': 5000 });
  assert.equal(nodeOf(ceqModel(), 'grant-pay').inbound.timeoutMs.value, 2000);
  assert.deepEqual(ic.inbound.timeoutMs, { value: 15000, from: { kind: 'builtin' } });
});

test('ratelimit: the bucket is burst tokens refilled with rps every second', () => {
  const rl = nodeOf(ceqModel(), 'impact-calc').inbound.rateLimit!;
  assert.equal(rl.rps.value, 50);
  assert.equal(rl.burst.value, 50);
  assert.equal(rl.fillIntervalMs.value, 1000);
  assert.deepEqual(rl.rps.from, { kind: 'file', pos: { file: 'mesh_policies.yml', line: 8, col: 5 } });
  assert.equal(nodeOf(ceqModel(), 'grant-pay').inbound.rateLimit, undefined);
});

test('ratelimit: a gRPC server gets none (it is a gap instead)', () => {
  assert.equal(nodeOf(grpcModel(), 'audit').inbound.rateLimit, undefined);
});
