/**
 * Clusters: one EDS cluster per upstream in the IR (endpoints over ADS, mTLS
 * to the callee), plus, on Envoy sidecars, the STATIC local cluster to the app.
 */
import type { LimitsIR, NodeIR, OutlierIR, UpstreamClusterIR } from '../ir/types';
import { TYPE, adsConfigSource, duration, socketAddress, type JsonObject } from './proto-json';
import { externalCluster } from './external';
import { envoyUpstreamTls, grpcUpstreamTls } from './tls';

const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

export function buildClusters(node: NodeIR): JsonObject[] {
  const upstream = node.clusters.map((c) => upstreamCluster(node, c));
  const local = node.inbound.localCluster ? [localCluster(node)] : [];
  const external = (node.outbound.externals ?? []).map(externalCluster);
  return [...upstream, ...external, ...local];
}

function upstreamCluster(node: NodeIR, c: UpstreamClusterIR): JsonObject {
  return {
    '@type': TYPE.cluster,
    name: c.name,
    type: 'EDS',
    eds_cluster_config: { eds_config: adsConfigSource(), service_name: c.edsServiceName },
    connect_timeout: duration(c.connectTimeoutMs.value),
    // The only policy gRPC accepts without a load_balancing_policy (A27 "CDS").
    lb_policy: 'ROUND_ROBIN',
    transport_socket: node.kind === 'grpc' ? grpcUpstreamTls(c, node.identity) : envoyUpstreamTls(c, node.identity),
    // gRPC needs HTTP/2 end to end; proxyless clients always speak it, Envoy must be told.
    ...(c.protocol === 'grpc' && node.kind === 'envoy' ? { typed_extension_protocol_options: http2Options() } : {}),
    ...(c.outlier ? { outlier_detection: node.kind === 'grpc' ? grpcOutlierDetection(c.outlier) : outlierDetection(c.outlier) } : {}),
    ...(c.outlier && node.kind === 'envoy' ? { common_lb_config: openCircuitFailsFast() } : {}),
    ...(c.limits ? { circuit_breakers: circuitBreakers(c.limits) } : {}),
  };
}

export function http2Options(): JsonObject {
  return {
    [HTTP_PROTOCOL_OPTIONS]: {
      '@type': TYPE.httpProtocolOptions,
      explicit_http_config: { http2_protocol_options: {} },
    },
  };
}

/**
 * Consecutive-failure ejection only. split_external_local_origin_errors makes
 * connect failures and resets count as local-origin failures
 * (consecutive_local_origin_failure) instead of being folded into 5xx.
 * enforcing_consecutive_gateway_failure defaults to 0 in Envoy, so it is set.
 * Success-rate ejection is switched off (Envoy and gRPC both enable it by
 * default, A50): the policy asks for consecutive failures, nothing statistical.
 */
/**
 * An open circuit fails fast, at once:
 * - healthy_panic_threshold 0: with every instance ejected, Envoy's panic mode
 *   (below 50 % healthy by default) would send calls to the ejected ones
 *   anyway; with panic off it answers 503, response flag UH, which the
 *   outbound listener marks `x-mesh-error: circuit-open`;
 * - update_merge_window 0: Envoy merges health changes of EDS hosts for 1 s
 *   by default before its workers see them, so for a second after the
 *   ejection calls still reached the ejected instance (measured against
 *   Envoy 1.40: test/envoy-real/circuit-breaker.test.ts).
 */
function openCircuitFailsFast(): JsonObject {
  return { healthy_panic_threshold: { value: 0 }, update_merge_window: '0s' };
}

function outlierDetection(o: OutlierIR): JsonObject {
  const n = o.consecutiveFailures.value;
  return {
    consecutive_5xx: n,
    consecutive_gateway_failure: n,
    consecutive_local_origin_failure: n,
    split_external_local_origin_errors: true,
    enforcing_consecutive_5xx: 100,
    enforcing_consecutive_gateway_failure: 100,
    enforcing_consecutive_local_origin_failure: 100,
    enforcing_local_origin_success_rate: 0,
    ...ejectionTiming(o),
    // The circuit closes after reset_seconds every time, not base x number of ejections.
    max_ejection_time: duration(o.baseEjectionMs.value),
  };
}

/** What Envoy and gRPC share: no success-rate ejection, and how often, how long and how many are ejected. */
function ejectionTiming(o: OutlierIR): JsonObject {
  return {
    enforcing_success_rate: 0,
    interval: duration(o.intervalMs.value),
    base_ejection_time: duration(o.baseEjectionMs.value),
    max_ejection_percent: o.maxEjectionPercent.value,
  };
}

/**
 * Proxyless gRPC has no consecutive-failure ejection (A50: success rate and
 * failure percentage only), so max_failures maps to the closest it has: an
 * instance that received at least max_failures calls in one interval and
 * failed more than 99% of them (grpc-js compares with ">") is ejected for
 * reset_seconds. minimum_hosts 1 so a single instance can be ejected too
 * (the default 5 would never eject in a small mesh). Lint says so (MESH070).
 */
function grpcOutlierDetection(o: OutlierIR): JsonObject {
  return {
    failure_percentage_threshold: 99,
    enforcing_failure_percentage: 100,
    failure_percentage_minimum_hosts: 1,
    failure_percentage_request_volume: o.consecutiveFailures.value,
    ...ejectionTiming(o),
  };
}

/** One DEFAULT-priority threshold; gRPC reads only its max_requests (A32). */
function circuitBreakers(l: LimitsIR): JsonObject {
  return {
    thresholds: [
      {
        priority: 'DEFAULT',
        max_connections: l.maxConnections.value,
        max_pending_requests: l.maxPendingRequests.value,
        max_requests: l.maxRequests.value,
        max_retries: l.maxRetries.value,
      },
    ],
  };
}

/** The app behind the sidecar, on loopback: STATIC, no TLS (it never leaves the host). */
function localCluster(node: NodeIR): JsonObject {
  const local = node.inbound.localCluster!;
  return {
    '@type': TYPE.cluster,
    name: local.name,
    type: 'STATIC',
    connect_timeout: duration(1000),
    load_assignment: {
      cluster_name: local.name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(local.address, local.port) } }] }],
    },
  };
}
