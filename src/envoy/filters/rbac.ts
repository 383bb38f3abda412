/**
 * Access policy -> RBAC HTTP filter (envoy.filters.http.rbac), default deny:
 * an ALLOW policy per allowed caller whose only principal is the caller's
 * SPIFFE ID as authenticated by mTLS (Principal.authenticated.principal_name
 * matches the peer certificate's URI SAN). With no allowed caller the policy
 * map is empty, and an empty ALLOW policy set denies every request.
 *
 * On Envoy sidecars the rules live in the inbound RouteConfiguration (RDS),
 * as RBACPerRoute on its only route, and the listener's filter holds an empty
 * ALLOW set (deny everything) for any route without them. A listener update
 * only reaches new connections (open ones drain on the old filter chain for
 * --drain-time-s, 600 s by default), while a route update applies to the next
 * request on every connection: so revoking access is effective at once.
 *
 * Proxyless gRPC servers keep the rules on the listener's filter (A41:
 * principal_name checks URI SANs first; A36 server-side RDS is not per-route
 * filter config in grpc-js-xds). gRPC clients get no RBAC: A41 is server-side
 * only and grpc-js-xds NACKs it on a client listener.
 */
import type { AccessIR } from '../../ir/types';
import { TYPE, type JsonObject } from '../proto-json';
import type { FilterContext, HttpFilterSpec } from './types';

export const RBAC_FILTER_NAME = 'envoy.filters.http.rbac';

export function rbacRules(access: AccessIR): JsonObject {
  const policies: Record<string, JsonObject> = {};
  for (const caller of access.allowed) {
    policies[`allow|${caller.service}`] = {
      permissions: [{ any: true }],
      principals: [{ authenticated: { principal_name: { exact: caller.spiffeId } } }],
    };
  }
  return { action: 'ALLOW', policies };
}

/** Deny every request: what an Envoy inbound route without RBACPerRoute gets. */
const DENY_ALL: JsonObject = { action: 'ALLOW', policies: {} };

export const rbacFilter: HttpFilterSpec = {
  name: RBAC_FILTER_NAME,
  build(ctx: FilterContext) {
    if (ctx.chain !== 'envoy-inbound' && ctx.chain !== 'grpc-server') return undefined;
    const rules = ctx.chain === 'grpc-server' ? rbacRules(ctx.node.inbound.access) : DENY_ALL;
    return { name: RBAC_FILTER_NAME, typed_config: { '@type': TYPE.rbac, rules } };
  },
};

/** The access policy of an Envoy inbound route (replaces the listener filter's deny-all). */
export function rbacPerRoute(access: AccessIR): JsonObject {
  return { '@type': TYPE.rbacPerRoute, rbac: { rules: rbacRules(access) } };
}
