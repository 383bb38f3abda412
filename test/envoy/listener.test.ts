import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ceqModel } from '../translate/fixture-model';
import { compiledNode, hcmOf, resource } from './helpers';

test('inbound listener: 0.0.0.0:<mesh port>, mTLS required, SDS cert and trust bundle, trust-domain SAN prefix', () => {
  const l = resource(compiledNode(ceqModel(), 'grant-pay'), 'listeners', 'inbound|15090');
  assert.deepEqual(l.address, { socket_address: { address: '0.0.0.0', port_value: 15090 } });
  assert.equal(l.filter_chains.length, 1);
  const tls = l.filter_chains[0].transport_socket;
  assert.equal(tls.name, 'envoy.transport_sockets.tls');
  assert.equal(tls.typed_config.require_client_certificate, true);
  const ctx = tls.typed_config.common_tls_context;
  assert.deepEqual(ctx.tls_certificate_sds_secret_configs, [
    { name: 'spiffe://ceq.gov/svc/grant-pay', sds_config: { ads: {}, resource_api_version: 'V3' } },
  ]);
  assert.equal(ctx.combined_validation_context.validation_context_sds_secret_config.name, 'spiffe://ceq.gov');
  assert.deepEqual(ctx.combined_validation_context.default_validation_context.match_typed_subject_alt_names, [
    { san_type: 'URI', matcher: { prefix: 'spiffe://ceq.gov/' } },
  ]);
});

test('inbound listener: RDS route (same name) to the local STATIC cluster with the service timeout, JSON access log', () => {
  const node = compiledNode(ceqModel(), 'grant-pay');
  const hcm = hcmOf(resource(node, 'listeners', 'inbound|15090'));
  assert.equal(hcm.route_config, undefined, 'not inline: a listener change would leave open connections on the old config');
  assert.equal(hcm.rds.route_config_name, 'inbound|15090');
  assert.deepEqual(resource(node, 'routes', 'inbound|15090').virtual_hosts[0].routes[0].route, { cluster: 'inbound|15090|local', timeout: '2s' });
  // The stdout logger, not a file logger on /dev/stdout (which cannot be reopened when stdout is a socket).
  assert.equal(hcm.access_log[0].name, 'envoy.access_loggers.stdout');
  assert.equal(hcm.access_log[0].typed_config['@type'], 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog');
  assert.equal(hcm.access_log[0].typed_config.path, undefined);
  assert.equal(hcm.access_log[0].typed_config.log_format.json_format.peer, '%DOWNSTREAM_PEER_URI_SAN%');
  assert.equal(hcm.preserve_external_request_id, true);
});

test('outbound listener: 127.0.0.1:<outbound port>, RDS `outbound` over ADS, request ids, JSON access log', () => {
  const l = resource(compiledNode(ceqModel(), 'impact-calc'), 'listeners', 'outbound|15001');
  assert.deepEqual(l.address, { socket_address: { address: '127.0.0.1', port_value: 15001 } });
  assert.equal(l.filter_chains[0].transport_socket, undefined);
  const hcm = hcmOf(l);
  assert.deepEqual(hcm.rds, { route_config_name: 'outbound', config_source: { ads: {}, resource_api_version: 'V3' } });
  assert.equal(hcm.generate_request_id, true);
  const fmt = hcm.access_log[0].typed_config.log_format.json_format;
  assert.equal(fmt.trace_id, '%REQ(X-REQUEST-ID)%');
  assert.equal(fmt.upstream_cluster, '%UPSTREAM_CLUSTER%');
  assert.equal(fmt.upstream_host, '%UPSTREAM_HOST%');
  assert.equal(fmt.status, '%RESPONSE_CODE%');
  assert.equal(fmt.duration_ms, '%DURATION%');
  assert.equal(fmt.response_flags, '%RESPONSE_FLAGS%');
});

test('local cluster: STATIC to 127.0.0.1:<app port>', () => {
  const c = resource(compiledNode(ceqModel(), 'impact-calc'), 'clusters', 'inbound|15081|local');
  assert.equal(c.type, 'STATIC');
  assert.deepEqual(c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address, {
    socket_address: { address: '127.0.0.1', port_value: 8081 },
  });
});
