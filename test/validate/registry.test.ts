import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { envoyProtos, lookupMessageType } from '../../src/validate';

/** @types a mesh config commonly carries: all must resolve, or validation would reject valid config. */
const EXTENSION_TYPES = [
  'envoy.config.bootstrap.v3.Bootstrap',
  'envoy.config.listener.v3.Listener',
  'envoy.config.route.v3.RouteConfiguration',
  'envoy.config.route.v3.ScopedRouteConfiguration',
  'envoy.config.route.v3.VirtualHost',
  'envoy.config.cluster.v3.Cluster',
  'envoy.config.endpoint.v3.ClusterLoadAssignment',
  'envoy.extensions.transport_sockets.tls.v3.Secret',
  'envoy.service.discovery.v3.DiscoveryResponse',
  'envoy.service.discovery.v3.DeltaDiscoveryResponse',
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  'envoy.extensions.filters.network.rbac.v3.RBAC',
  'envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit',
  'envoy.extensions.filters.http.router.v3.Router',
  'envoy.extensions.filters.http.rbac.v3.RBAC',
  'envoy.extensions.filters.http.rbac.v3.RBACPerRoute',
  'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
  'envoy.extensions.filters.http.ratelimit.v3.RateLimit',
  'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
  'envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
  'envoy.extensions.filters.http.cors.v3.Cors',
  'envoy.extensions.filters.http.fault.v3.HTTPFault',
  'envoy.extensions.filters.http.grpc_web.v3.GrpcWeb',
  'envoy.extensions.filters.http.health_check.v3.HealthCheck',
  'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  'envoy.extensions.filters.listener.original_dst.v3.OriginalDst',
  'envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
  'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
  'envoy.extensions.access_loggers.file.v3.FileAccessLog',
  'envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
  'envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig',
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  'envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin',
  'udpa.type.v1.TypedStruct',
  'xds.type.v3.TypedStruct',
  'google.protobuf.Struct',
  'google.protobuf.FieldMask',
];

describe('Envoy API proto registry', () => {
  it('loads the v3 API once, lazily, and says what it cost', () => {
    const first = envoyProtos();
    assert.equal(envoyProtos(), first, 'cached');
    const s = first.stats;
    assert.ok(s.files > 350, `files: ${s.files}`);
    assert.ok(s.messageTypes > 1000, `types: ${s.messageTypes}`);
    assert.ok(s.loadMs < 10_000, `loadMs: ${s.loadMs}`);
    // Only files that import protos grpc-js-xds does not ship (opencensus, opentelemetry, prometheus) are left out.
    assert.deepEqual(s.skippedFiles, [
      'envoy/config/trace/v3/opencensus.proto',
      'envoy/config/trace/v3/trace.proto',
      'envoy/extensions/access_loggers/open_telemetry/v3/logs_service.proto',
      'envoy/service/metrics/v3/metrics_service.proto',
      'envoy/service/trace/v3/trace_service.proto',
    ]);
  });

  it('resolves the resource and extension types a mesh uses, by name and by type URL', () => {
    const missing = EXTENSION_TYPES.filter((t) => lookupMessageType(t) === undefined || lookupMessageType(`type.googleapis.com/${t}`) === undefined);
    assert.deepEqual(missing, []);
  });

  it('does not resolve v2 types, enums, or garbage', () => {
    assert.equal(lookupMessageType('type.googleapis.com/envoy.api.v2.Cluster'), undefined);
    assert.equal(lookupMessageType('envoy.config.cluster.v3.Cluster.LbPolicy'), undefined);
    assert.equal(lookupMessageType('type.googleapis.com/'), undefined);
    assert.equal(lookupMessageType('not a type'), undefined);
  });

  it('exposes PGV rules through parsed options (including empty messages such as gt {})', () => {
    const field = lookupMessageType('envoy.config.cluster.v3.Cluster')?.fields['connect_timeout'];
    assert.deepEqual(field?.parsedOptions, [{ '(validate.rules)': { duration: { gt: {} } } }]);
  });
});
