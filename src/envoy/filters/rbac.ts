/**
 * Access policy -> RBAC HTTP filter (envoy.filters.http.rbac), default deny:
 * an ALLOW policy per allowed caller whose only principal is the caller's
 * SPIFFE ID as authenticated by mTLS (Principal.authenticated.principal_name
 * matches the peer certificate's URI SAN). With no allowed caller the policy
 * map is empty, and an empty ALLOW policy set denies every request.
 *
 * The same config runs on proxyless gRPC servers (A41: principal_name checks
 * URI SANs first). gRPC clients get no RBAC: A41 is server-side only and
 * grpc-js-xds NACKs it on a client listener.
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

export const rbacFilter: HttpFilterSpec = {
  name: RBAC_FILTER_NAME,
  build(ctx: FilterContext) {
    if (ctx.chain !== 'envoy-inbound' && ctx.chain !== 'grpc-server') return undefined;
    return {
      name: RBAC_FILTER_NAME,
      typed_config: { '@type': TYPE.rbac, rules: rbacRules(ctx.node.inbound.access) },
    };
  },
};
