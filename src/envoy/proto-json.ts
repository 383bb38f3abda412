/**
 * Small builders for proto3 JSON values used across resources
 * (https://protobuf.dev/programming-guides/proto3/#json): durations are
 * strings with an `s` suffix, wrapper types (UInt32Value, BoolValue) are plain
 * values, enums are names, Any carries `@type`.
 */
export type JsonObject = { [key: string]: unknown };

const TYPE_PREFIX = 'type.googleapis.com/';

export const TYPE = {
  listener: `${TYPE_PREFIX}envoy.config.listener.v3.Listener`,
  routeConfiguration: `${TYPE_PREFIX}envoy.config.route.v3.RouteConfiguration`,
  cluster: `${TYPE_PREFIX}envoy.config.cluster.v3.Cluster`,
  clusterLoadAssignment: `${TYPE_PREFIX}envoy.config.endpoint.v3.ClusterLoadAssignment`,
  secret: `${TYPE_PREFIX}envoy.extensions.transport_sockets.tls.v3.Secret`,
  httpConnectionManager: `${TYPE_PREFIX}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
  downstreamTlsContext: `${TYPE_PREFIX}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`,
  upstreamTlsContext: `${TYPE_PREFIX}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`,
  httpProtocolOptions: `${TYPE_PREFIX}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
  stdoutAccessLog: `${TYPE_PREFIX}envoy.extensions.access_loggers.stream.v3.StdoutAccessLog`,
  httpGrpcAccessLog: `${TYPE_PREFIX}envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig`,
  rbac: `${TYPE_PREFIX}envoy.extensions.filters.http.rbac.v3.RBAC`,
  rbacPerRoute: `${TYPE_PREFIX}envoy.extensions.filters.http.rbac.v3.RBACPerRoute`,
  localRateLimit: `${TYPE_PREFIX}envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`,
  router: `${TYPE_PREFIX}envoy.extensions.filters.http.router.v3.Router`,
  httpFault: `${TYPE_PREFIX}envoy.extensions.filters.http.fault.v3.HTTPFault`,
  headerMutation: `${TYPE_PREFIX}envoy.extensions.filters.http.header_mutation.v3.HeaderMutation`,
  lua: `${TYPE_PREFIX}envoy.extensions.filters.http.lua.v3.Lua`,
  luaPerRoute: `${TYPE_PREFIX}envoy.extensions.filters.http.lua.v3.LuaPerRoute`,
  previousHostsPredicate: `${TYPE_PREFIX}envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate`,
} as const;

/** Milliseconds as a proto3 JSON Duration: 2000 -> "2s", 500 -> "0.500s". */
export function duration(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) throw new Error(`duration: expected a non-negative integer of ms, got ${ms}`);
  const seconds = Math.floor(ms / 1000);
  const rest = ms % 1000;
  return rest === 0 ? `${seconds}s` : `${seconds}.${String(rest).padStart(3, '0')}s`;
}

/** ConfigSource that means "the same ADS stream this resource came on" (xDS protocol, "Aggregated Discovery Service"). */
export function adsConfigSource(): JsonObject {
  return { ads: {}, resource_api_version: 'V3' };
}

export function socketAddress(address: string, port: number): JsonObject {
  return { socket_address: { address, port_value: port } };
}

/** RuntimeFractionalPercent fixed at 100 %; the runtime key lets an operator dial it down without a rebuild. */
export function fullPercent(runtimeKey: string): JsonObject {
  return { default_value: { numerator: 100, denominator: 'HUNDRED' }, runtime_key: runtimeKey };
}
