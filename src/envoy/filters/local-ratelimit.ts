/**
 * Rate limit policy -> local token bucket on the inbound route
 * (envoy.filters.http.local_ratelimit): max_tokens = burst, tokens_per_fill =
 * rps every fill interval (1 s). Over the limit: 429. The bucket is shared by
 * all connections (local_rate_limit_per_downstream_connection stays false), so
 * the limit is per sidecar, as the policy says.
 *
 * filter_enabled / filter_enforced must be set at 100 %: when absent the
 * filter does nothing (local_rate_limit.proto, "filter_enabled").
 *
 * The bucket is per-route config in the inbound RouteConfiguration (RDS), so
 * a changed limit applies to open connections at once (see rbac.ts for why a
 * listener update would not). The listener's filter is always there on
 * Envoy inbound chains, with nothing enabled: adding a rate limit later then
 * changes only the route, never the listener.
 */
import type { RateLimitIR } from '../../ir/types';
import { TYPE, duration, fullPercent, type JsonObject } from '../proto-json';
import type { FilterContext, HttpFilterSpec } from './types';

export const LOCAL_RATE_LIMIT_FILTER_NAME = 'envoy.filters.http.local_ratelimit';
const STAT_PREFIX = 'inbound_rate_limit';

export const localRateLimitFilter: HttpFilterSpec = {
  name: LOCAL_RATE_LIMIT_FILTER_NAME,
  build(ctx: FilterContext) {
    // gRPC servers have no such filter (reported as a gap by translate/grpc-gaps.ts).
    if (ctx.chain !== 'envoy-inbound') return undefined;
    return { name: LOCAL_RATE_LIMIT_FILTER_NAME, typed_config: { '@type': TYPE.localRateLimit, stat_prefix: STAT_PREFIX } };
  },
};

/** The token bucket of an Envoy inbound route. */
export function localRateLimitPerRoute(rl: RateLimitIR): JsonObject {
  return {
    '@type': TYPE.localRateLimit,
    stat_prefix: STAT_PREFIX,
    token_bucket: {
      max_tokens: rl.burst.value,
      tokens_per_fill: rl.rps.value,
      fill_interval: duration(rl.fillIntervalMs.value),
    },
    filter_enabled: fullPercent('hms.rate_limit.enabled'),
    filter_enforced: fullPercent('hms.rate_limit.enforced'),
    status: { code: 'TooManyRequests' },
  };
}
