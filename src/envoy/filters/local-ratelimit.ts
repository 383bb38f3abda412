/**
 * Rate limit policy -> local token bucket on the inbound listener
 * (envoy.filters.http.local_ratelimit): max_tokens = burst, tokens_per_fill =
 * rps every fill interval (1 s). Over the limit: 429. The bucket is shared by
 * all connections (local_rate_limit_per_downstream_connection stays false), so
 * the limit is per sidecar, as the policy says.
 *
 * filter_enabled / filter_enforced must be set at 100 %: when absent the HCM
 * level filter does nothing (local_rate_limit.proto, "filter_enabled").
 */
import { TYPE, duration, fullPercent } from '../proto-json';
import type { FilterContext, HttpFilterSpec } from './types';

export const LOCAL_RATE_LIMIT_FILTER_NAME = 'envoy.filters.http.local_ratelimit';

export const localRateLimitFilter: HttpFilterSpec = {
  name: LOCAL_RATE_LIMIT_FILTER_NAME,
  build(ctx: FilterContext) {
    const rl = ctx.node.inbound.rateLimit;
    // gRPC servers have no such filter (reported as a gap by translate/grpc-gaps.ts).
    if (ctx.chain !== 'envoy-inbound' || !rl) return undefined;
    return {
      name: LOCAL_RATE_LIMIT_FILTER_NAME,
      typed_config: {
        '@type': TYPE.localRateLimit,
        stat_prefix: 'inbound_rate_limit',
        token_bucket: {
          max_tokens: rl.burst.value,
          tokens_per_fill: rl.rps.value,
          fill_interval: duration(rl.fillIntervalMs.value),
        },
        filter_enabled: fullPercent('hms.rate_limit.enabled'),
        filter_enforced: fullPercent('hms.rate_limit.enforced'),
        status: { code: 'TooManyRequests' },
      },
    };
  },
};
