import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import * as YAML from 'yaml';
import { validateEnvoyConfig, validateNodeConfig, validatePaths } from '../../src/validate';
import { NODE_DIR, dig, inboundHcm, loadNode, summarize, validateNode } from './helpers';

const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };
const HTTP_FILTERS = 'resources[0].filter_chains[0].filters[0].typed_config.http_filters';
const OUTBOUND_HCM = 'resources[1].filter_chains[0].filters[0].typed_config';
const ROOTCA_REF = 'transport_socket.typed_config.common_tls_context.combined_validation_context.validation_context_sds_secret_config.name';

describe('valid node fixture', () => {
  it('has zero findings when the folder is validated as one node (with its bootstrap)', () => {
    const result = validatePaths([NODE_DIR]);
    assert.deepEqual(summarize(result.diagnostics), []);
    assert.equal(result.filesChecked, 6);
    assert.equal(result.nodes, 1);
  });

  it('has zero findings through the compiler entry point (validateNodeConfig)', () => {
    const node = loadNode();
    const bootstrap: unknown = YAML.parse(fs.readFileSync(path.join(NODE_DIR, 'bootstrap.yaml'), 'utf8'));
    const diags = validateNodeConfig({
      listeners: node.listeners.resources,
      routes: node.routes.resources,
      clusters: node.clusters.resources,
      endpoints: node.endpoints.resources,
      secrets: node.secrets.resources,
      bootstrap,
    });
    assert.deepEqual(summarize(diags), []);
  });

  it('reports paths per kind in validateNodeConfig', () => {
    const node = loadNode();
    dig(node.clusters.resources[2], ['outlier_detection'])['interval'] = '0s';
    const diags = validateNodeConfig({ clusters: node.clusters.resources, endpoints: node.endpoints.resources }, { file: 'snapshot', complete: false });
    assert.deepEqual(summarize(diags), ['ENVOY012 snapshot clusters[2].outlier_detection.interval']);
  });
});

describe('fault injection: structure and PGV rules', () => {
  it('unknown field', () => {
    const node = loadNode();
    dig(node.clusters.resources[0], ['outlier_detection'])['consecutive_5xxx'] = 5;
    const diags = validateNode(node);
    assert.deepEqual(summarize(diags), ['ENVOY001 clusters.json resources[0].outlier_detection.consecutive_5xxx']);
    assert.equal(diags[0]?.hint, 'did you mean "consecutive_5xx"?');
  });

  it('bad enum name', () => {
    const node = loadNode();
    (node.clusters.resources[1] as { lb_policy: string }).lb_policy = 'LEAST_REQUESTS';
    assert.deepEqual(summarize(validateNode(node)), ['ENVOY003 clusters.json resources[1].lb_policy']);
  });

  it('string min_len: an empty cluster name in a route', () => {
    const node = loadNode();
    dig(node.routes.resources[0], ['virtual_hosts', 1, 'routes', 0, 'route'])['cluster'] = '';
    const diags = validateNode(node);
    assert.deepEqual(summarize(diags), ['ENVOY010 routes.json resources[0].virtual_hosts[1].routes[0].route.cluster']);
    assert.match(diags[0]?.message ?? '', /RouteAction\.cluster: value length must be at least 1/);
  });

  it('negative duration where PGV requires gt 0s', () => {
    const node = loadNode();
    dig(node.clusters.resources[0], ['outlier_detection'])['interval'] = '-10s';
    const diags = validateNode(node);
    assert.deepEqual(summarize(diags), ['ENVOY012 clusters.json resources[0].outlier_detection.interval']);
    assert.match(diags[0]?.message ?? '', /greater than 0s \(got -10s\)/);
  });

  it('a negative or too long duration where no PGV rule applies (Envoy checks every Duration it loads)', () => {
    const node = loadNode();
    dig(node.clusters.resources[0], ['outlier_detection'])['max_ejection_time_jitter'] = '-0.5s';
    dig(node.clusters.resources[0], [])['common_lb_config'] ??= {};
    dig(node.clusters.resources[0], ['common_lb_config'])['update_merge_window'] = '9223372036s';
    const diags = validateNode(node);
    assert.deepEqual(summarize(diags).sort(), ['ENVOY012 clusters.json resources[0].common_lb_config.update_merge_window', 'ENVOY012 clusters.json resources[0].outlier_detection.max_ejection_time_jitter']);
    assert.match(diags.find((d) => d.path?.endsWith('jitter'))?.message ?? '', /Envoy rejects negative durations/);
    assert.match(diags.find((d) => d.path?.endsWith('window'))?.message ?? '', /at most 9223372035s/);
    dig(node.clusters.resources[0], ['common_lb_config'])['update_merge_window'] = '9223372035.999s';
    assert.deepEqual(summarize(validateNode(node)), ['ENVOY012 clusters.json resources[0].outlier_detection.max_ejection_time_jitter']);
  });

  it('unresolvable Any @type (typo, and a v2 type)', () => {
    const node = loadNode();
    const filters = inboundHcm(node)['http_filters'] as { typed_config: { '@type': string } }[];
    (filters[1] as { typed_config: { '@type': string } }).typed_config['@type'] =
      'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimitt';
    (filters[0] as { typed_config: { '@type': string } }).typed_config['@type'] = 'type.googleapis.com/envoy.config.filter.http.rbac.v2.RBAC';
    assert.deepEqual(summarize(validateNode(node)), [
      `ENVOY005 listeners.json ${HTTP_FILTERS}[0].typed_config["@type"]`,
      `ENVOY005 listeners.json ${HTTP_FILTERS}[1].typed_config["@type"]`,
    ]);
  });

  it('oneof conflict: rds and route_config both set', () => {
    const node = loadNode();
    dig(node.listeners.resources[1], ['filter_chains', 0, 'filters', 0, 'typed_config'])['route_config'] = { name: 'inline' };
    const diags = validateNode(node);
    assert.deepEqual(summarize(diags), [`ENVOY004 listeners.json ${OUTBOUND_HCM}.route_config`]);
    assert.match(diags[0]?.message ?? '', /oneof route_specifier/);
  });

  it('required message and required oneof', () => {
    const node = loadNode();
    const route = dig(node.routes.resources[0], ['virtual_hosts', 0, 'routes', 0]);
    delete route['match'];
    delete route['route'];
    assert.deepEqual(summarize(validateNode(node)), [
      'ENVOY014 routes.json resources[0].virtual_hosts[0].routes[0].match',
      'ENVOY015 routes.json resources[0].virtual_hosts[0].routes[0]',
    ]);
  });

  it('repeated min_items and wrong JSON type', () => {
    const node = loadNode();
    dig(node.routes.resources[0], ['virtual_hosts', 0])['domains'] = [];
    dig(node.endpoints.resources[0], ['endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address'])['port_value'] = 'http';
    assert.deepEqual(summarize(validateNode(node)), [
      'ENVOY002 endpoints.json resources[0].endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value',
      'ENVOY013 routes.json resources[0].virtual_hosts[0].domains',
    ]);
  });

  it('deprecated field is a warning, not an error', () => {
    const node = loadNode();
    dig(node.routes.resources[0], ['virtual_hosts', 0, 'routes', 0, 'route', 'weighted_clusters'])['total_weight'] = 100;
    const diags = validateNode(node);
    assert.deepEqual(summarize(diags), ['ENVOY020 routes.json resources[0].virtual_hosts[0].routes[0].route.weighted_clusters.total_weight']);
    assert.equal(diags[0]?.severity, 'warning');
  });

  it('resource of the wrong type in a typed response', () => {
    const node = loadNode();
    node.listeners.resources.push(node.clusters.resources[3] as never);
    const diags = validateNode(node);
    assert.deepEqual(summarize(diags), ['ENVOY042 listeners.json resources[2]["@type"]']);
  });
});

describe('fault injection: cross-references', () => {
  it('route references a cluster that does not exist (plain and weighted)', () => {
    const node = loadNode();
    dig(node.routes.resources[0], ['virtual_hosts', 1, 'routes', 0, 'route'])['cluster'] = 'outbound|9090||paymets';
    dig(node.routes.resources[0], ['virtual_hosts', 0, 'routes', 0, 'route', 'weighted_clusters', 'clusters', 1])['name'] = 'outbound|8080|v3|api';
    const diags = validateNode(node);
    assert.deepEqual(summarize(diags), [
      'ENVOY030 routes.json resources[0].virtual_hosts[0].routes[0].route.weighted_clusters.clusters[1].name',
      'ENVOY030 routes.json resources[0].virtual_hosts[1].routes[0].route.cluster',
    ]);
  });

  it('RDS route_config_name that no RouteConfiguration serves', () => {
    const node = loadNode();
    dig(node.listeners.resources[1], ['filter_chains', 0, 'filters', 0, 'typed_config', 'rds'])['route_config_name'] = 'outbound_htp';
    assert.deepEqual(summarize(validateNode(node)), [`ENVOY031 listeners.json ${OUTBOUND_HCM}.rds.route_config_name`]);
  });

  it('EDS cluster without a ClusterLoadAssignment', () => {
    const node = loadNode();
    node.endpoints.resources.pop();
    assert.deepEqual(summarize(validateNode(node)), ['ENVOY032 clusters.json resources[2].eds_cluster_config.service_name']);
  });

  it('SDS secret that does not exist, wherever it is referenced', () => {
    const node = loadNode();
    node.secrets.resources = node.secrets.resources.filter((s) => s['name'] !== 'ROOTCA');
    assert.deepEqual(summarize(validateNode(node)), [
      `ENVOY033 clusters.json resources[0].${ROOTCA_REF}`,
      `ENVOY033 clusters.json resources[1].${ROOTCA_REF}`,
      `ENVOY033 clusters.json resources[2].${ROOTCA_REF}`,
      `ENVOY033 listeners.json resources[0].filter_chains[0].${ROOTCA_REF}`,
    ]);
  });

  it('duplicate listener address', () => {
    const node = loadNode();
    dig(node.listeners.resources[1], ['address', 'socket_address'])['port_value'] = 15006;
    const diags = validateNode(node);
    assert.deepEqual(summarize(diags), ['ENVOY034 listeners.json resources[1].address.socket_address']);
    assert.match(diags[0]?.message ?? '', /0\.0\.0\.0:15006, already used by listener "inbound_0\.0\.0\.0_15006"/);
  });

  it('router filter not last', () => {
    const node = loadNode();
    const filters = inboundHcm(node)['http_filters'] as unknown[];
    filters.push({ name: 'envoy.filters.http.cors', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' } });
    assert.deepEqual(summarize(validateNode(node)), [`ENVOY035 listeners.json ${HTTP_FILTERS}[2]`]);
  });

  it('router filter twice, and missing', () => {
    const node = loadNode();
    (inboundHcm(node)['http_filters'] as unknown[]).push(structuredClone(ROUTER));
    const outbound = dig(node.listeners.resources[1], ['filter_chains', 0, 'filters', 0, 'typed_config']);
    outbound['http_filters'] = [{ name: 'envoy.filters.http.cors', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' } }];
    assert.deepEqual(summarize(validateNode(node)), [
      `ENVOY035 listeners.json ${HTTP_FILTERS}[2]`,
      `ENVOY035 listeners.json ${HTTP_FILTERS}[3]`,
      `ENVOY035 listeners.json ${OUTBOUND_HCM}.http_filters`,
    ]);
  });

  it('duplicate resource names', () => {
    const node = loadNode();
    node.clusters.resources.push(structuredClone(node.clusters.resources[0]) as never);
    assert.deepEqual(summarize(validateNode(node)), ['ENVOY036 clusters.json resources[4].name']);
  });

  it('does not check references to kinds the input does not provide', () => {
    // routes.json alone names clusters, but holds none: nothing to resolve them against.
    assert.deepEqual(summarize(validatePaths([path.join(NODE_DIR, 'routes.json')]).diagnostics), []);
    assert.deepEqual(summarize(validatePaths([path.join(NODE_DIR, 'listeners.json')]).diagnostics), []);
  });

  it('a fully static bootstrap is a complete node by itself', () => {
    const bootstrap = {
      static_resources: {
        listeners: [
          {
            name: 'ingress',
            address: { socket_address: { address: '0.0.0.0', port_value: 8080 } },
            filter_chains: [{ filters: [{ name: 'hcm', typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'ingress',
              route_config: { virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'bakend' } }] }] },
              http_filters: [ROUTER],
            } }] }],
          },
        ],
        clusters: [{ name: 'backend', connect_timeout: '1s' }],
      },
    };
    const route = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.cluster';
    assert.deepEqual(summarize(validateEnvoyConfig(bootstrap, { file: 'envoy.yaml' })), [`ENVOY030 envoy.yaml ${route}`]);
  });
});
