import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapRetryOnForGrpc } from '../../src/translate/retries';
import { ceqModel } from './fixture-model';
import { grpcModel } from './fixture-grpc';
import { nodeOf, withPolicies } from './helpers';

test('retries: Envoy keeps every condition, the count and the per-try timeout, with provenance', () => {
  const vh = nodeOf(ceqModel(), 'impact-calc').outbound.virtualHosts.find((v) => v.name === 'grant-pay')!;
  assert.deepEqual(vh.retry?.retryOn.value, ['5xx', 'connect-failure', 'refused-stream', 'unavailable']);
  assert.equal(vh.retry?.numRetries.value, 3);
  assert.equal(vh.retry?.perTryTimeoutMs?.value, 500);
  assert.deepEqual(vh.retry?.numRetries.from, { kind: 'file', pos: { file: 'mesh_policies.yml', line: 19, col: 5 } });
});

test('retries: the builtin default applies to callees without a policy', () => {
  const vh = nodeOf(ceqModel(), 'impact-calc').outbound.virtualHosts.find((v) => v.name === 'public-docs')!;
  assert.equal(vh.retry?.numRetries.value, 2);
  assert.equal(vh.retry?.numRetries.from.kind, 'builtin');
  assert.equal(vh.retry?.perTryTimeoutMs, undefined);
});

test('retries: attempts 0 emits no retry policy (gRPC NACKs num_retries < 1)', () => {
  const model = withPolicies(ceqModel(), 'grant-pay', (p) => ({
    ...p,
    retries: { ...p.retries, attempts: { value: 0, from: { kind: 'builtin' } } },
  }));
  const vh = nodeOf(model, 'impact-calc').outbound.virtualHosts.find((v) => v.name === 'grant-pay')!;
  assert.equal(vh.retry, undefined);
});

test('retries: gRPC maps connection failures to unavailable and drops HTTP conditions (A44)', () => {
  assert.deepEqual(mapRetryOnForGrpc(['5xx', 'connect-failure', 'refused-stream', 'unavailable', 'reset']), {
    mapped: ['unavailable'],
    dropped: ['5xx'],
  });
  assert.deepEqual(mapRetryOnForGrpc(['gateway-error', 'retriable-4xx']), { mapped: [], dropped: ['gateway-error', 'retriable-4xx'] });
  assert.deepEqual(mapRetryOnForGrpc(['internal', 'cancelled']).mapped, ['cancelled', 'internal']);
});

test('retries: a gRPC node gets mapped conditions and no per-try timeout', () => {
  const vh = nodeOf(grpcModel(), 'ledger').outbound.virtualHosts.find((v) => v.name === 'grant-pay')!;
  assert.deepEqual(vh.retry?.retryOn.value, ['unavailable']);
  assert.equal(vh.retry?.numRetries.value, 3);
  assert.equal(vh.retry?.perTryTimeoutMs, undefined);
});
