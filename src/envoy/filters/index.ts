/**
 * The order of HTTP filters, in one table. http_filters is an ordered list
 * (each filter sees the request after the ones before it), so this order is
 * never sorted away by the stable JSON writer.
 */
import type { JsonObject } from '../proto-json';
import { envoyHeadersFilter } from './envoy-headers';
import { faultFilter } from './fault';
import { guardrailFilter } from './guardrail';
import { localRateLimitFilter } from './local-ratelimit';
import { rbacFilter } from './rbac';
import { routerFilter } from './router';
import type { FilterContext, HttpFilterSpec } from './types';

export const HTTP_FILTER_ORDER: readonly HttpFilterSpec[] = [
  // 0. Outbound only: the app's x-envoy-* control headers but its deadline are
  //    removed first, so no filter after it, the router least of all, reads
  //    them (envoy-headers.ts).
  envoyHeadersFilter,
  // 1. RBAC (inbound) before the rest: an unauthorised caller is rejected before it spends a
  //    rate-limit token or reaches anything else.
  rbacFilter,
  // 2. Local rate limit after RBAC: only authorised traffic consumes tokens, so
  //    a denied caller cannot starve the allowed ones.
  localRateLimitFilter,
  // 3. Compliance guardrail (outbound, only on nodes with rules): before the
  //    fault filter, so a refused request is refused even when a chaos route
  //    would have delayed it, and nothing of it is sent upstream.
  guardrailFilter,
  // 4. Fault injection (outbound, only when a route asks): just before the
  //    router, so an injected abort or delay stands for the upstream call
  //    itself and is not counted as a rate-limited or denied request.
  faultFilter,
  // 5. Router last: it is terminal. Envoy rejects filters after it; gRPC NACKs
  //    an HCM whose last filter is not the router (A39; grpc-js-xds
  //    listener-resource-type.ts validateHttpConnectionManager).
  routerFilter,
];

export function httpFilters(ctx: FilterContext): JsonObject[] {
  const out: JsonObject[] = [];
  for (const spec of HTTP_FILTER_ORDER) {
    const f = spec.build(ctx);
    if (f) out.push(f);
  }
  return out;
}

export type { FilterChainKind, FilterContext, HttpFilterSpec } from './types';
export { RBAC_FILTER_NAME, rbacRules, rbacPerRoute } from './rbac';
export { LOCAL_RATE_LIMIT_FILTER_NAME, localRateLimitPerRoute } from './local-ratelimit';
export { ROUTER_FILTER_NAME } from './router';
export { FAULT_FILTER_NAME, faultPerRoute, nodeInjectsFaults } from './fault';
export { ENVOY_HEADERS_FILTER_NAME, STRIPPED_ENVOY_HEADERS } from './envoy-headers';
export { GUARDRAIL_FILTER_NAME, GUARDRAIL_METADATA, guardrailPerVirtualHost, nodeHasGuardrails } from './guardrail';
