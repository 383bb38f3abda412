import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ceqModel } from '../translate/fixture-model';
import { grpcModel } from '../translate/fixture-grpc';
import { compiledNode, resource } from './helpers';

test('clusters: EDS over ADS, mTLS with SNI = service and exact URI SAN = its SPIFFE ID', () => {
  const c = resource(compiledNode(ceqModel(), 'impact-calc'), 'clusters', 'outbound|public-docs');
  assert.equal(c.type, 'EDS');
  assert.deepEqual(c.eds_cluster_config, { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: 'outbound|public-docs' });
  assert.equal(c.connect_timeout, '1s');
  const tls = c.transport_socket.typed_config;
  assert.equal(tls['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext');
  assert.equal(tls.sni, 'public-docs');
  assert.deepEqual(tls.common_tls_context.combined_validation_context.default_validation_context.match_typed_subject_alt_names, [
    { san_type: 'URI', matcher: { exact: 'spiffe://ceq.gov/svc/public-docs' } },
  ]);
  assert.equal(tls.common_tls_context.tls_certificate_sds_secret_configs[0].name, 'spiffe://ceq.gov/svc/impact-calc');
  assert.equal(c.typed_extension_protocol_options, undefined);
});

test('clusters: outlier detection from the circuit breaker (3 failed calls, 30 s every time), failing fast when open', () => {
  const c = resource(compiledNode(ceqModel(), 'impact-calc'), 'clusters', 'outbound|grant-pay|v1');
  // max_failures 3 counts calls; a failed POST is one attempt (not retried on 5xx by default).
  assert.deepEqual(c.outlier_detection, {
    consecutive_5xx: 3,
    consecutive_gateway_failure: 3,
    consecutive_local_origin_failure: 3,
    split_external_local_origin_errors: true,
    enforcing_consecutive_5xx: 100,
    enforcing_consecutive_gateway_failure: 100,
    enforcing_consecutive_local_origin_failure: 100,
    enforcing_success_rate: 0,
    enforcing_local_origin_success_rate: 0,
    interval: '1s',
    base_ejection_time: '30s',
    max_ejection_time: '30s',
    max_ejection_percent: 100,
  });
  assert.deepEqual(c.common_lb_config, { healthy_panic_threshold: { value: 0 }, update_merge_window: '0s' });
  // No circuit breaker, no change to Envoy's load balancing.
  assert.equal(resource(compiledNode(ceqModel(), 'impact-calc'), 'clusters', 'outbound|public-docs').common_lb_config, undefined);
  assert.deepEqual(c.circuit_breakers.thresholds, [
    { priority: 'DEFAULT', max_connections: 1024, max_pending_requests: 1024, max_requests: 1024, max_retries: 1024 },
  ]);
});

test('clusters: an Envoy cluster to a gRPC upstream speaks HTTP/2 and offers h2', () => {
  const c = resource(compiledNode(grpcModel(), 'impact-calc'), 'clusters', 'outbound|ledger');
  assert.deepEqual(c.typed_extension_protocol_options, {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      explicit_http_config: { http2_protocol_options: {} },
    },
  });
  assert.deepEqual(c.transport_socket.typed_config.common_tls_context.alpn_protocols, ['h2']);
});

test('endpoints: ClusterLoadAssignment with one weighted locality of static endpoints', () => {
  const la = resource(compiledNode(ceqModel(), 'impact-calc'), 'endpoints', 'outbound|grant-pay|v2');
  assert.deepEqual(la.endpoints, [
    {
      locality: { zone: 'static' },
      load_balancing_weight: 1,
      lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 15090 } } } }],
    },
  ]);
  assert.deepEqual(resource(compiledNode(ceqModel(), 'impact-calc'), 'endpoints', 'outbound|grant-pay|v1').endpoints, []);
});

test('secrets: references with placeholders, never key material', () => {
  const node = compiledNode(ceqModel(), 'impact-calc');
  const cert = resource(node, 'secrets', 'spiffe://ceq.gov/svc/impact-calc');
  assert.deepEqual(cert.tls_certificate, {
    certificate_chain: { inline_string: 'hms-pki:cert-chain:impact-calc' },
    private_key: { inline_string: 'hms-pki:private-key:impact-calc' },
  });
  const bundle = resource(node, 'secrets', 'spiffe://ceq.gov');
  assert.deepEqual(bundle.validation_context, { trusted_ca: { inline_string: 'hms-pki:trust-bundle:ceq.gov' } });
  assert.doesNotMatch(JSON.stringify(node.resources), /BEGIN/);
});
