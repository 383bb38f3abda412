/**
 * The callee's half of `mesh explain`: its inbound listener (Envoy sidecar
 * inbound, or the proxyless gRPC server listener, A36) decides with mTLS and
 * RBAC, then the local rate limit and the inbound route apply.
 */
import type { NodeOutput } from '../../envoy';
import { provenanceJson } from '../provenance';
import { findRoute, findVirtualHost, hcmOf, httpFilter, list, obj, sanMatchers, stringMatches, byName, type Headers } from './match';
import { evaluateRbac } from './rbac';
import type { AccessAnswer, RateLimitAnswer, Sourced } from './types';
import type { JsonObject } from '../../envoy/proto-json';

export interface CalleeView {
  readonly access: AccessAnswer;
  readonly calleeAcceptsCaller: boolean;
  readonly rateLimit?: RateLimitAnswer;
  readonly inboundTimeout?: Sourced<string>;
}

export function calleeSide(callee: NodeOutput, principal: string, headers: Headers): CalleeView {
  const ir = callee.ir;
  const listenerName = ir.inbound.listenerName;
  const listener = byName(callee.resources.listeners, listenerName);
  if (!listener) throw new Error(`bug: ${callee.id} has no inbound listener ${listenerName}`);
  const hcm = hcmOf(listener) ?? {};
  const route = inboundRoute(callee, hcm, headers);
  const decision = evaluateRbac(filterConfig(hcm, route, 'envoy.filters.http.rbac'), { principal, headers, destinationPort: ir.inbound.port });
  const policy = decision.matched[0];
  const rule = ir.inbound.access.allowed.find((a) => `allow|${a.service}` === policy)?.from;
  const access: AccessAnswer = {
    decision: decision.allowed ? 'allow' : 'deny',
    listener: listenerName,
    principal,
    action: decision.action,
    ...(policy !== undefined ? { policy } : {}),
    ...(rule ? { rule: provenanceJson(rule) } : {}),
    accessPolicy: provenanceJson(ir.inbound.access.from),
    unsupported: decision.unsupported,
  };
  return {
    access,
    calleeAcceptsCaller: sanAccepted(list(listener['filter_chains'])[0]?.['transport_socket'], principal),
    ...rateLimitOf(callee, filterConfig(hcm, route, 'envoy.filters.http.local_ratelimit')),
    ...inboundTimeoutOf(callee, route),
  };
}

/** The inbound route a request takes: in the listener's own route_config (gRPC servers) or its RDS config (Envoy). */
function inboundRoute(callee: NodeOutput, hcm: JsonObject, headers: Headers): JsonObject | undefined {
  const rdsName = obj(hcm['rds'])?.['route_config_name'];
  const rc = obj(hcm['route_config']) ?? (typeof rdsName === 'string' ? byName(callee.resources.routes, rdsName) : undefined);
  const found = rc && findVirtualHost(rc, headers.get(':authority') ?? '');
  return found ? findRoute(found.vh, headers) : undefined;
}

/**
 * A filter's effective config for one route: the route's typed_per_filter_config replaces the
 * listener's (RBACPerRoute wraps it in `rbac`), as Envoy applies them.
 */
function filterConfig(hcm: JsonObject, route: JsonObject | undefined, name: string): JsonObject | undefined {
  const perRoute = obj(obj(route?.['typed_per_filter_config'])?.[name]);
  if (perRoute) return obj(perRoute['rbac']) ?? perRoute;
  return httpFilter(hcm, name);
}

/** A TLS context with SAN matchers accepts a peer whose SPIFFE ID matches one of them; none: any chain to the bundle. */
export function sanAccepted(tls: unknown, spiffeId: string): boolean {
  const matchers = sanMatchers(tls);
  return matchers.length === 0 || matchers.some((m) => stringMatches(m, spiffeId));
}

function rateLimitOf(callee: NodeOutput, cfg: JsonObject | undefined): { rateLimit?: RateLimitAnswer } {
  const bucket = obj(cfg?.['token_bucket']);
  const rl = callee.ir.inbound.rateLimit;
  if (!bucket || !rl) return {};
  return {
    rateLimit: {
      listener: callee.ir.inbound.listenerName,
      tokensPerFill: { value: Number(bucket['tokens_per_fill'] ?? 1), from: provenanceJson(rl.rps.from) },
      maxTokens: { value: Number(bucket['max_tokens']), from: provenanceJson(rl.burst.from) },
      fillInterval: { value: String(bucket['fill_interval']), from: provenanceJson(rl.fillIntervalMs.from) },
    },
  };
}

/** Envoy sidecars route inbound requests to the app with the service's own timeout; gRPC servers do not forward. */
function inboundTimeoutOf(callee: NodeOutput, route: JsonObject | undefined): { inboundTimeout?: Sourced<string> } {
  const timeout = obj(route?.['route'])?.['timeout'];
  if (timeout === undefined) return {};
  return { inboundTimeout: { value: String(timeout), from: provenanceJson(callee.ir.inbound.timeoutMs.from) } };
}
