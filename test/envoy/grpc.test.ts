import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMesh } from '../../src/envoy';
import { grpcModel } from '../translate/fixture-grpc';
import { PKI_DIR, compiledNode, filterNames, hcmOf, resource, type Any } from './helpers';
import { grpcBootstrapInfo, grpcDecode } from './grpc-js-xds';

const SERVER = 'grpc/server?xds.resource.listening_address=0.0.0.0:9100';

test('grpc: API listener per allowed callee, named so xds:///<callee> resolves, RDS over ADS, router only', () => {
  const ledger = compiledNode(grpcModel(), 'ledger');
  assert.deepEqual(ledger.resources.listeners.map((l) => l['name']), ['audit', 'grant-pay', SERVER]);
  const hcm = hcmOf(resource(ledger, 'listeners', 'grant-pay'));
  assert.deepEqual(hcm.rds, { route_config_name: 'outbound|grant-pay', config_source: { ads: {}, resource_api_version: 'V3' } });
  assert.deepEqual(filterNames(hcm), ['envoy.filters.http.router']);
});

test('grpc: server listener named from the bootstrap template, with its bound address, A29 TLS, RBAC + router, non-forwarding route', () => {
  const l = resource(compiledNode(grpcModel(), 'ledger'), 'listeners', SERVER);
  assert.deepEqual(l.address, { socket_address: { address: '0.0.0.0', port_value: 9100 } });
  const chain = l.filter_chains[0];
  assert.equal(chain.filters.length, 1);
  const tls = chain.transport_socket.typed_config;
  assert.equal(tls.require_client_certificate, true);
  assert.deepEqual(tls.common_tls_context.tls_certificate_provider_instance, { instance_name: 'default' });
  const hcm = hcmOf(l);
  assert.deepEqual(filterNames(hcm), ['envoy.filters.http.rbac', 'envoy.filters.http.router']);
  assert.deepEqual(Object.keys(hcm.http_filters[0].typed_config.rules.policies), ['allow|impact-calc']);
  assert.deepEqual(hcm.route_config.virtual_hosts[0].routes[0].non_forwarding_action, {});
});

test('grpc: routes use weighted clusters, max_stream_duration and gRPC retry conditions only', () => {
  const rc: Any = resource(compiledNode(grpcModel(), 'ledger'), 'routes', 'outbound|grant-pay');
  assert.deepEqual(rc.virtual_hosts[0].domains, ['grant-pay']);
  const action = rc.virtual_hosts[0].routes[0].route;
  assert.deepEqual(action.weighted_clusters.clusters.map((c: Any) => [c.name, c.weight]), [
    ['outbound|grant-pay|v1', 90],
    ['outbound|grant-pay|v2', 10],
  ]);
  assert.deepEqual(action.max_stream_duration, { max_stream_duration: '2s', grpc_timeout_header_max: '2s' });
  assert.deepEqual(action.retry_policy, { retry_on: 'unavailable', num_retries: 3 });
  assert.equal(action.timeout, undefined);
});

test('grpc: clusters use certificate provider instances and the SAN the peer must present, no SDS', () => {
  const c = resource(compiledNode(grpcModel(), 'ledger'), 'clusters', 'outbound|audit');
  const ctx = c.transport_socket.typed_config.common_tls_context;
  assert.deepEqual(ctx.validation_context.match_subject_alt_names, [{ exact: 'spiffe://ceq.gov/svc/audit' }]);
  assert.equal(ctx.tls_certificate_sds_secret_configs, undefined);
  assert.deepEqual(compiledNode(grpcModel(), 'ledger').resources.secrets, []);
});

test('grpc: the pinned grpc-js-xds accepts every bootstrap and resource we emit', () => {
  for (const node of compileMesh(grpcModel(), { pkiDir: PKI_DIR }).nodes.filter((n) => n.kind === 'grpc')) {
    const info = grpcBootstrapInfo(node.bootstrap!.text);
    assert.equal(info.node.id, node.id);
    assert.equal(info.serverListenerResourceNameTemplate, 'grpc/server?xds.resource.listening_address=%s');
    for (const kind of ['listeners', 'routes', 'clusters', 'endpoints'] as const) {
      for (const r of node.resources[kind]) {
        const out = grpcDecode(kind, r, info);
        assert.equal(out.error, undefined, `${node.id} ${kind} ${out.name}: ${out.error}`);
      }
    }
  }
});

test('grpc: grpc-js-xds reads our circuit breaker max_requests and no success-rate ejection', () => {
  const node = compiledNode(grpcModel(), 'ledger');
  const info = grpcBootstrapInfo(node.bootstrap!.text);
  const out = grpcDecode('clusters', resource(node, 'clusters', 'outbound|grant-pay|v1'), info);
  assert.equal(out.value.maxConcurrentRequests, 1024);
  assert.equal(out.value.outlierDetectionUpdate.success_rate_ejection, undefined);
  assert.equal(out.value.securityUpdate.subjectAltNameMatchers[0].exact, 'spiffe://ceq.gov/svc/grant-pay');
});
