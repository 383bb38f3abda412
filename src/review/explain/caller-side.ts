/**
 * The caller's half of `mesh explain`: follow the request through the
 * caller's compiled resources as its proxy would. Envoy sidecar: outbound
 * listener -> HCM -> RDS config -> virtual host by Host -> first matching
 * route -> cluster or weighted clusters. Proxyless gRPC: the Listener named
 * by the channel target (`xds:///<callee>`, A27) -> its API listener's HCM ->
 * RDS config -> virtual host by :authority -> route (A28).
 */
import type { NodeOutput } from '../../envoy';
import type { JsonObject } from '../../envoy/proto-json';
import type { GatewayChainIR, GatewayListenerIR, NodeIR, RouteIR, RouteTargetIR, UpstreamClusterIR, VirtualHostIR } from '../../ir/types';
import type { Provenance } from '../../model/types';
import { provenanceJson } from '../provenance';
import { byName, findRoute, findVirtualHost, hcmOf, list, obj, type Headers } from './match';
import type { CircuitBreakerAnswer, ClusterAnswer, FaultAnswer, RetryAnswer, RouteAnswer, Sourced } from './types';

export type CallerRoute = { readonly route: RouteAnswer } | { readonly failure: string };

const sourced = <T>(value: T, from: Provenance): Sourced<T> => ({ value, from: provenanceJson(from) });

/** Where the caller's proxy looks the authority up: its listener, route configuration and the virtual host it selects. */
export type CallerVirtualHost =
  | { readonly listenerName: string; readonly routeConfig: JsonObject; readonly found: { readonly vh: JsonObject; readonly domain: string } }
  | { readonly failure: string };

export function callerVirtualHost(caller: NodeOutput, authority: string): CallerVirtualHost {
  const ir = caller.ir;
  const listenerName = ir.kind === 'grpc' ? authority : ir.outbound.listenerName;
  const listener = listenerName === undefined ? undefined : byName(caller.resources.listeners, listenerName);
  if (!listener || listenerName === undefined) {
    return { failure: `${caller.id} has no listener "${listenerName ?? 'outbound'}" (${ir.kind === 'grpc' ? 'the channel target resolves to nothing: UNAVAILABLE' : 'no outbound listener'})` };
  }
  const hcm = hcmOf(listener);
  const rdsName = obj(hcm?.['rds'])?.['route_config_name'];
  const routeConfig = obj(hcm?.['route_config']) ?? (typeof rdsName === 'string' ? byName(caller.resources.routes, rdsName) : undefined);
  if (!routeConfig) return { failure: `${caller.id}'s listener ${listenerName} has no route configuration` };
  const found = findVirtualHost(routeConfig, authority);
  if (!found) return { failure: `${caller.id}'s route configuration ${String(routeConfig['name'])} has no virtual host for "${authority}" (Envoy answers 404 NR)` };
  return { listenerName, routeConfig, found };
}

export function callerRoute(caller: NodeOutput, authority: string, headers: Headers): CallerRoute {
  const ir = caller.ir;
  if (ir.gateway) return gatewayRoute(caller, authority, headers);
  const lookup = callerVirtualHost(caller, authority);
  if ('failure' in lookup) return lookup;
  const { listenerName, routeConfig, found } = lookup;
  const route = findRoute(found.vh, headers);
  if (!route) return { failure: `no route of virtual host ${String(found.vh['name'])} matches ${headers.get(':path')} (Envoy answers 404 NR)` };
  const vhIR = ir.outbound.virtualHosts.find((v) => v.name === found.vh['name']);
  if (!vhIR) throw new Error(`bug: virtual host ${String(found.vh['name'])} of ${caller.id} is not in its IR`);
  const action = obj(route['route']) ?? {};
  // A `routes:` entry compiles to `<name>` (and `<name>|idempotent`); the callee's own to default/idempotent.
  const routeIR = vhIR.routes?.find((r) => r.name === String(route['name'] ?? '').split('|')[0]);
  const policy: RoutePolicyView = routeIR ?? vhIR;
  return {
    route: {
      proxy: ir.kind,
      listener: listenerName,
      routeConfig: String(routeConfig['name']),
      virtualHost: String(found.vh['name']),
      matchedDomain: found.domain,
      route: String(route['name'] ?? '(unnamed)'),
      clusters: clustersOf(caller, action, policy),
      ...(policy.split ? { split: provenanceJson(policy.split) } : {}),
      ...retryOf(action, policy),
      ...timeoutOf(action, ir, policy),
      ...(routeIR ? { rule: provenanceJson({ kind: 'file', pos: routeIR.pos }) } : {}),
      ...faultOf(route, routeIR),
    },
  };
}

/**
 * An ingress gateway (src/envoy/gateway.ts): the TLS server name picks the
 * listener and filter chain, taken to be the Host without its port (what a
 * browser sends); that chain's own route configuration -> virtual host ->
 * first matching route. A name no chain serves never gets an HTTP answer.
 */
function gatewayRoute(caller: NodeOutput, authority: string, headers: Headers): CallerRoute {
  const host = authority.replace(/:\d+$/, '').toLowerCase();
  const picked = gatewayChain(caller.ir.gateway!.listeners, host);
  if (!picked) return { failure: `no listener of gateway ${caller.id} serves the server name "${host}": Envoy closes the connection in the TLS handshake` };
  const { listener, chain } = picked;
  const routeConfig = byName(caller.resources.routes, chain.routeConfigName);
  if (!routeConfig) throw new Error(`bug: route configuration ${chain.routeConfigName} of ${caller.id} is missing`);
  const found = findVirtualHost(routeConfig, host);
  const route = found ? findRoute(found.vh, headers) : undefined;
  if (!found || !route) return { failure: `no route of gateway ${caller.id} for ${host} matches ${headers.get(':path')} (Envoy answers 404 NR)` };
  const name = String(route['name'] ?? '').split('|')[0];
  const policy = chain.virtualHosts.find((v) => v.hostname === found.vh['name'])?.routes.find((r) => r.name === name);
  if (!policy) throw new Error(`bug: route ${name} of ${caller.id} is not in its IR`);
  const action = obj(route['route']) ?? {};
  return {
    route: {
      proxy: caller.ir.kind,
      listener: listener.name,
      routeConfig: chain.routeConfigName,
      virtualHost: String(found.vh['name']),
      matchedDomain: found.domain,
      route: String(route['name']),
      clusters: clustersOf(caller, action, policy),
      ...(policy.split ? { split: provenanceJson(policy.split) } : {}),
      ...retryOf(action, policy),
      ...timeoutOf(action, caller.ir, policy),
      rule: provenanceJson({ kind: 'file', pos: policy.pos }),
      service: policy.service,
    },
  };
}

/**
 * The filter chain Envoy picks for a server name (filter_chain_match.server_names):
 * an exact name first, else the wildcard with the longest suffix. Listeners of
 * different ports are tried in port order (the name alone does not say which
 * port the client dialed; lint rejects a hostname on two chains of one port).
 */
export function gatewayChain(listeners: readonly GatewayListenerIR[], host: string): { listener: GatewayListenerIR; chain: GatewayChainIR } | undefined {
  let best: { listener: GatewayListenerIR; chain: GatewayChainIR; len: number } | undefined;
  for (const listener of listeners) {
    for (const chain of listener.chains) {
      for (const name of chain.hostnames) {
        const len = name === host ? Number.MAX_SAFE_INTEGER : name.startsWith('*.') && host.endsWith(name.slice(1)) ? name.length : -1;
        if (len >= 0 && (!best || len > best.len)) best = { listener, chain, len };
      }
    }
  }
  return best && { listener: best.listener, chain: best.chain };
}

/** What a route decides: the callee's own policy (VirtualHostIR) or a `routes:` entry (RouteIR). */
type RoutePolicyView = Pick<VirtualHostIR, 'targets' | 'split' | 'retry' | 'timeoutMs'>;

/** Read from the route's HTTPFault (what Envoy is told); provenance from the IR. */
function faultOf(route: JsonObject, r: RouteIR | undefined): { fault?: FaultAnswer } {
  const cfg = obj(obj(route['typed_per_filter_config'])?.['envoy.filters.http.fault']);
  if (!cfg || !r?.fault) return {};
  const pct = (p: unknown): number => {
    const f = obj(p) ?? {};
    const den = ({ HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 } as Record<string, number>)[String(f['denominator'] ?? 'HUNDRED')] ?? 100;
    return (Number(f['numerator'] ?? 0) / den) * 100;
  };
  const delay = obj(cfg['delay']);
  const abort = obj(cfg['abort']);
  return {
    fault: {
      ...(delay && r.fault.delay ? { delay: { fixed: sourced(String(delay['fixed_delay']), r.fault.delay.fixedMs.from), percent: sourced(pct(delay['percentage']), r.fault.delay.percent.from) } } : {}),
      ...(abort && r.fault.abort ? { abort: { status: sourced(Number(abort['http_status']), r.fault.abort.status.from), percent: sourced(pct(abort['percentage']), r.fault.abort.percent.from) } } : {}),
    },
  };
}

function clustersOf(caller: NodeOutput, action: JsonObject, vh: RoutePolicyView): ClusterAnswer[] {
  const weighted = list(obj(action['weighted_clusters'])?.['clusters']);
  const picks = weighted.length
    ? weighted.map((c) => ({ name: String(c['name']), weight: Number(c['weight'] ?? 0) }))
    : typeof action['cluster'] === 'string' ? [{ name: action['cluster'], weight: 100 }] : [];
  const total = picks.reduce((s, p) => s + p.weight, 0);
  return picks.map((p) => {
    const target: RouteTargetIR | undefined = vh.targets.find((t) => t.cluster === p.name);
    const cluster = byName(caller.resources.clusters, p.name);
    const clusterIR = caller.ir.clusters.find((c) => c.name === p.name);
    const eds = byName(caller.resources.endpoints, p.name);
    return {
      name: p.name,
      ...(target?.version ? { version: target.version } : {}),
      weight: sourced(p.weight, target?.weight.from ?? { kind: 'builtin' }),
      percent: total > 0 ? Math.round((p.weight / total) * 1000) / 10 : 0,
      present: cluster !== undefined,
      staticEndpoints: list(eds?.['endpoints']).reduce((n, l) => n + list(l['lb_endpoints']).length, 0),
      ...(cluster && clusterIR ? clusterSettings(cluster, clusterIR) : {}),
    };
  });
}

function clusterSettings(cluster: JsonObject, ir: UpstreamClusterIR): Pick<ClusterAnswer, 'connectTimeout' | 'circuitBreaker'> {
  const od = obj(cluster['outlier_detection']);
  const th = list(obj(cluster['circuit_breakers'])?.['thresholds'])[0];
  const cb: { -readonly [K in keyof CircuitBreakerAnswer]: CircuitBreakerAnswer[K] } = {};
  const o = ir.outlier;
  if (od && o) {
    const volume = od['consecutive_5xx'] ?? od['failure_percentage_request_volume'];
    cb.openAfterFailedCalls = sourced(o.failedCalls.value, o.failedCalls.from);
    if (typeof volume === 'number') cb.ejectAfterFailures = sourced(volume, o.consecutiveFailures.from);
    cb.baseEjectionTime = sourced(String(od['base_ejection_time']), o.baseEjectionMs.from);
    cb.interval = sourced(String(od['interval']), o.intervalMs.from);
    cb.maxEjectionPercent = sourced(Number(od['max_ejection_percent']), o.maxEjectionPercent.from);
  }
  const l = ir.limits;
  if (th && l) {
    cb.maxConnections = sourced(Number(th['max_connections']), l.maxConnections.from);
    cb.maxPendingRequests = sourced(Number(th['max_pending_requests']), l.maxPendingRequests.from);
    cb.maxRequests = sourced(Number(th['max_requests']), l.maxRequests.from);
    cb.maxRetries = sourced(Number(th['max_retries']), l.maxRetries.from);
  }
  return {
    connectTimeout: sourced(String(cluster['connect_timeout']), ir.connectTimeoutMs.from),
    ...(Object.keys(cb).length ? { circuitBreaker: cb } : {}),
  };
}

export function retryOf(action: JsonObject, vh: Pick<RoutePolicyView, 'retry'>): { retry?: RetryAnswer } {
  const rp = obj(action['retry_policy']);
  if (!rp || !vh.retry) return {};
  const r = vh.retry;
  // The route for non-idempotent methods carries the narrowed conditions (src/envoy/route.ts).
  const narrowed = r.nonIdempotent !== undefined && String(rp['retry_on'] ?? '') !== r.retryOn.value.join(',');
  return {
    retry: {
      numRetries: sourced(Number(rp['num_retries'] ?? 1), r.numRetries.from),
      retryOn: sourced(String(rp['retry_on'] ?? ''), narrowed ? r.nonIdempotent!.retryOn.from : r.retryOn.from),
      ...(rp['per_try_timeout'] !== undefined && r.perTryTimeoutMs ? { perTryTimeout: sourced(String(rp['per_try_timeout']), r.perTryTimeoutMs.from) } : {}),
    },
  };
}

/** Envoy reads RouteAction.timeout; gRPC reads max_stream_duration (A31). */
function timeoutOf(action: JsonObject, ir: NodeIR, vh: RoutePolicyView): { timeout?: Sourced<string> } {
  const value = ir.kind === 'grpc' ? obj(action['max_stream_duration'])?.['max_stream_duration'] : action['timeout'];
  return value === undefined ? {} : { timeout: sourced(String(value), vh.timeoutMs.from) };
}
