/**
 * RouteConfigurations. Envoy sidecars: one RDS config `outbound` with a
 * virtual host per allowed callee. Proxyless gRPC: one RDS config per API
 * listener. Envoy sidecars also get one inbound config per inbound listener,
 * named like it, holding the access policy and rate limit as per-route filter
 * config (filters/rbac.ts says why they are not on the listener).
 *
 * Each virtual host has one route (prefix "/"), or two when non-idempotent
 * requests must not be retried like idempotent ones: first `idempotent`
 * (GET, HEAD, OPTIONS, TRACE, PUT, DELETE: RFC 9110 9.2.2) with the policy as
 * written, then `default` for every other method. Routes are an ordered,
 * first-match list: their order is kept, never sorted.
 */
import type { FaultIR, NodeIR, RetryIR, RouteIR, RouteMatchIR, RouteTargetIR, VirtualHostIR } from '../ir/types';
import { OUTBOUND_ROUTE_CONFIG } from '../translate/naming';
import { deadlineCap } from './deadline';
import { externalVirtualHost } from './external';
import { TYPE, duration, type JsonObject } from './proto-json';
import { FAULT_FILTER_NAME, faultPerRoute, guardrailPerVirtualHost, LOCAL_RATE_LIMIT_FILTER_NAME, localRateLimitPerRoute, RBAC_FILTER_NAME, rbacPerRoute } from './filters';

/** Response header carrying the request id back to the calling app. */
export const TRACE_HEADER = 'x-trace';

export function buildRoutes(node: NodeIR): JsonObject[] {
  if (node.kind === 'grpc') return node.outbound.virtualHosts.map(grpcRouteConfiguration);
  return [envoyOutboundRouteConfiguration(node), inboundRouteConfig(node)];
}

function envoyOutboundRouteConfiguration(node: NodeIR): JsonObject {
  return {
    '@type': TYPE.routeConfiguration,
    name: OUTBOUND_ROUTE_CONFIG,
    // Virtual hosts are matched by domain, not by position: sorted for stable output.
    virtual_hosts: [
      ...node.outbound.virtualHosts.map((vh) => withGuardrail(node, vh.service, envoyVirtualHost(vh))),
      ...(node.outbound.externals ?? []).map((e) => withGuardrail(node, e.name, externalVirtualHost(e, (x) => (x.retry ? envoyRetryPolicy(x.retry) : undefined)))),
    ],
    // Every response to the app carries the trace id (the request id the HCM generated or kept).
    response_headers_to_add: [
      { header: { key: TRACE_HEADER, value: '%REQ(x-request-id)%' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    ],
  };
}

/** The guardrail's per-virtual-host script (filters/guardrail.ts); a node without rules is left as it was. */
function withGuardrail(node: NodeIR, callee: string, vh: JsonObject): JsonObject {
  const g = guardrailPerVirtualHost(node, callee);
  return g ? { ...vh, typed_per_filter_config: g } : vh;
}

function grpcRouteConfiguration(vh: VirtualHostIR): JsonObject {
  return {
    '@type': TYPE.routeConfiguration,
    name: vh.routeConfigName,
    virtual_hosts: [virtualHost(vh, grpcRouteAction(vh))],
  };
}

function virtualHost(vh: VirtualHostIR, action: JsonObject): JsonObject {
  return {
    name: vh.name,
    domains: [...vh.domains],
    routes: [...(vh.routes ?? []).map(grpcRoute), { name: 'default', match: { prefix: '/' }, route: action }],
  };
}

/** gRPC (A28): path and header matches as Envoy's; the method condition and faults are not compiled (translate/routes.ts). */
function grpcRoute(r: RouteIR): JsonObject {
  return { name: r.name, match: routeMatch(r.match), route: grpcRouteAction(r) };
}

/**
 * One target: `cluster`. Several: `weighted_clusters`, sorted by cluster name.
 * Envoy and gRPC pick by cumulative weight along the list, so the order decides
 * which request lands where but not the proportions; sorting keeps it stable.
 */
function clusterSpecifier(targets: readonly RouteTargetIR[]): JsonObject {
  if (targets.length === 1) return { cluster: targets[0].cluster };
  return { weighted_clusters: { clusters: targets.map((t) => ({ name: t.cluster, weight: t.weight.value })) } };
}

/** Methods a retry may repeat: RFC 9110 9.2.2 idempotent methods. */
export const IDEMPOTENT_METHODS = ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'] as const;

function envoyVirtualHost(vh: VirtualHostIR): JsonObject {
  return {
    name: vh.name,
    domains: [...vh.domains],
    routes: [...(vh.routes ?? []).flatMap((r) => envoyRoutes(r.name, routeMatch(r.match), r, r.fault)), ...envoyRoutes('default', { prefix: '/' }, vh)],
  };
}

/** What differs per route: where it goes, its retries, its timeout. */
type RoutePolicyIR = Pick<VirtualHostIR, 'targets' | 'retry' | 'timeoutMs'>;

/**
 * One route, or two when non-idempotent requests must not be retried like
 * idempotent ones: `<name>|idempotent` first (the match plus a `:method`
 * condition), then `<name>` for every other method. The default route's
 * pair keeps its historical names `idempotent` and `default`.
 */
export function envoyRoutes(name: string, match: JsonObject, p: RoutePolicyIR, fault?: FaultIR): JsonObject[] {
  const perFilter = fault ? { typed_per_filter_config: { [FAULT_FILTER_NAME]: faultPerRoute(fault) } } : {};
  const narrow = p.retry?.nonIdempotent;
  if (!p.retry || !narrow) return [{ name, match, route: envoyRouteAction(p, p.retry), ...perFilter }];
  // Other methods: retried only when the request never reached the service, and
  // without a per-try timeout (cutting a try short is what would run it twice).
  const others: RetryIR | undefined = narrow.retryOn.value.length > 0 ? { numRetries: p.retry.numRetries, retryOn: narrow.retryOn } : undefined;
  const methods = { name: ':method', string_match: { safe_regex: { regex: `^(${IDEMPOTENT_METHODS.join('|')})$` } } };
  const headers = [...((match['headers'] as JsonObject[] | undefined) ?? []), methods];
  return [
    { name: name === 'default' ? 'idempotent' : `${name}|idempotent`, match: { ...match, headers }, route: envoyRouteAction(p, p.retry), ...perFilter },
    { name, match, route: envoyRouteAction(p, others), ...perFilter },
  ];
}

/** RouteMatch (route_components.proto): path condition, then every header condition (ANDed). */
export function routeMatch(m: RouteMatchIR): JsonObject {
  const path: JsonObject = !m.path
    ? { prefix: '/' }
    : m.path.kind === 'prefix' ? { prefix: m.path.value } : m.path.kind === 'exact' ? { path: m.path.value } : { safe_regex: { regex: m.path.value } };
  const headers: JsonObject[] = [
    ...(m.methods ? [{ name: ':method', string_match: m.methods.length === 1 ? { exact: m.methods[0] } : { safe_regex: { regex: `^(${m.methods.join('|')})$` } } }] : []),
    ...m.headers.map(headerMatcher),
  ];
  return { ...path, ...(headers.length ? { headers } : {}) };
}

function headerMatcher(h: RouteMatchIR['headers'][number]): JsonObject {
  if (h.kind === 'present') return { name: h.name, present_match: true };
  const sm = h.kind === 'regex' ? { safe_regex: { regex: h.value } } : { [h.kind]: h.value };
  return { name: h.name, string_match: sm };
}

function envoyRouteAction(p: RoutePolicyIR, retry: RetryIR | undefined): JsonObject {
  return {
    ...clusterSpecifier(p.targets),
    timeout: duration(p.timeoutMs.value),
    ...deadlineCap(p.timeoutMs.value),
    ...(retry ? { retry_policy: envoyRetryPolicy(retry) } : {}),
  };
}

/**
 * Retries go to a different host when there is one (previous_hosts
 * predicate): retrying the instance that just failed defeats the point, and
 * pairs badly with outlier detection.
 */
function envoyRetryPolicy(r: RetryIR): JsonObject {
  return {
    retry_on: r.retryOn.value.join(','),
    num_retries: r.numRetries.value,
    ...(r.perTryTimeoutMs ? { per_try_timeout: duration(r.perTryTimeoutMs.value) } : {}),
    retry_host_predicate: [
      { name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': TYPE.previousHostsPredicate } },
    ],
    host_selection_retry_max_attempts: 3,
  };
}

/**
 * gRPC reads the timeout from max_stream_duration, not RouteAction.timeout
 * (A31 "Supported fields": grpc_timeout_header_max first, else
 * max_stream_duration; the call deadline becomes min(app deadline, value)).
 * Both carry the same value so Envoy-style readers agree.
 */
function grpcRouteAction(vh: RoutePolicyIR): JsonObject {
  const timeout = duration(vh.timeoutMs.value);
  return {
    ...clusterSpecifier(vh.targets),
    max_stream_duration: { max_stream_duration: timeout, grpc_timeout_header_max: timeout },
    ...(vh.retry ? { retry_policy: { retry_on: vh.retry.retryOn.value.join(','), num_retries: vh.retry.numRetries.value } } : {}),
  };
}

/** Envoy inbound: everything that passed TLS, RBAC and the rate limit of this route goes to the local app. */
export function inboundRouteConfig(node: NodeIR): JsonObject {
  const local = node.inbound.localCluster;
  if (!local) throw new Error(`bug: envoy node ${node.id} has no local cluster`);
  const rl = node.inbound.rateLimit;
  return {
    '@type': TYPE.routeConfiguration,
    name: node.inbound.listenerName,
    virtual_hosts: [
      {
        name: 'inbound',
        domains: ['*'],
        routes: [
          {
            name: 'default',
            match: { prefix: '/' },
            route: { cluster: local.name, timeout: duration(node.inbound.timeoutMs.value) },
            typed_per_filter_config: {
              [RBAC_FILTER_NAME]: rbacPerRoute(node.inbound.access),
              ...(rl ? { [LOCAL_RATE_LIMIT_FILTER_NAME]: localRateLimitPerRoute(rl) } : {}),
            },
          },
        ],
      },
    ],
  };
}

/**
 * gRPC server: routes must use non_forwarding_action; a server route with
 * any other action fails every RPC that matches it (A36, "Server-side
 * routing"; grpc-js-xds server.ts).
 */
export function grpcServerRouteConfig(node: NodeIR): JsonObject {
  return {
    name: node.inbound.listenerName,
    virtual_hosts: [
      { name: 'inbound', domains: ['*'], routes: [{ name: 'default', match: { prefix: '/' }, non_forwarding_action: {} }] },
    ],
  };
}
