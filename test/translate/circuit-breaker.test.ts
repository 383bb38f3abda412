import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ceqModel } from './fixture-model';
import { nodeOf } from './helpers';

test('circuit breaker: every cluster of the callee gets outlier detection and limits', () => {
  const ic = nodeOf(ceqModel(), 'impact-calc');
  for (const name of ['outbound|grant-pay|v1', 'outbound|grant-pay|v2']) {
    const c = ic.clusters.find((x) => x.name === name)!;
    // max_failures counts failed calls. A POST is not retried on 5xx (retry_non_idempotent unset):
    // one attempt per failed call, so Envoy's threshold stays 3 (retried GETs open it sooner).
    assert.equal(c.outlier?.failedCalls.value, 3);
    assert.equal(c.outlier?.attemptsPerCall.value, 1);
    assert.equal(c.outlier?.consecutiveFailures.value, 3);
    assert.equal(c.outlier?.baseEjectionMs.value, 30000);
    assert.deepEqual(c.outlier?.baseEjectionMs.from, { kind: 'file', pos: { file: 'mesh_policies.yml', line: 5, col: 5 } });
    assert.equal(c.outlier?.intervalMs.from.kind, 'builtin');
    assert.equal(c.outlier?.maxEjectionPercent.value, 100);
    assert.equal(c.limits?.maxRequests.value, 1024);
    assert.equal(c.limits?.maxRetries.value, 1024);
  }
  const docs = ic.clusters.find((x) => x.name === 'outbound|public-docs')!;
  assert.equal(docs.outlier, undefined);
  assert.equal(docs.limits, undefined);
});

test('clusters: TLS identity of the upstream (SNI = service, SAN = its SPIFFE ID)', () => {
  const c = nodeOf(ceqModel(), 'impact-calc').clusters[0];
  assert.equal(c.sni, 'grant-pay');
  assert.equal(c.peerSpiffeId, 'spiffe://ceq.gov/svc/grant-pay');
  assert.equal(c.edsServiceName, c.name);
});

test('identity: node id and cluster are the service; secrets are named by SPIFFE IDs', () => {
  const n = nodeOf(ceqModel(), 'impact-calc');
  assert.equal(n.id, 'impact-calc');
  assert.equal(n.cluster, 'impact-calc');
  assert.deepEqual(n.secrets.map((s) => s.name), ['spiffe://ceq.gov', 'spiffe://ceq.gov/svc/impact-calc']);
  assert.equal(n.inbound.listenerName, 'inbound|15081');
  assert.deepEqual(n.inbound.localCluster, { name: 'inbound|15081|local', address: '127.0.0.1', port: 8081 });
  assert.equal(n.outbound.listenerName, 'outbound|15001');
  assert.equal(n.bootstrap.pki.certFile, '/etc/hms/pki/svc/impact-calc/chain.pem');
  assert.equal(n.bootstrap.pki.caFile, '/etc/hms/pki/trust-bundle.pem');
});

test('domains: bare and .svc names, with and without the outbound port, sorted', () => {
  const vh = nodeOf(ceqModel(), 'impact-calc').outbound.virtualHosts[0];
  assert.deepEqual(vh.domains, ['grant-pay', 'grant-pay.svc', 'grant-pay.svc:15001', 'grant-pay:15001']);
});

test('circuit breaker: with retry_non_idempotent every failed call is 1 + retries attempts: Envoy counts 3 x 4', () => {
  const m = ceqModel();
  const optIn = { ...m, policies: m.policies.map((p) => (p.service === 'grant-pay' ? { ...p, retries: { ...p.retries, retryNonIdempotent: { value: true, from: { kind: 'builtin' as const } } } } : p)) };
  const c = nodeOf(optIn, 'impact-calc').clusters.find((x) => x.name === 'outbound|grant-pay|v1')!;
  assert.equal(c.outlier?.attemptsPerCall.value, 4);
  assert.equal(c.outlier?.consecutiveFailures.value, 12);
});

test('circuit breaker: without retries of server errors a failed call is one attempt', () => {
  const m = ceqModel();
  const noRetry5xx = { ...m, policies: m.policies.map((p) => (p.service === 'grant-pay' ? { ...p, retries: { ...p.retries, retryOn: { ...p.retries.retryOn, value: ['connect-failure', 'refused-stream'] } } } : p)) };
  const c = nodeOf(noRetry5xx, 'impact-calc').clusters.find((x) => x.name === 'outbound|grant-pay|v1')!;
  assert.equal(c.outlier?.attemptsPerCall.value, 1);
  assert.equal(c.outlier?.consecutiveFailures.value, 3);
});
