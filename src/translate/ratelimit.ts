/**
 * Processor: rate limits (keyed by the service, enforced on its own inbound
 * listener): a local token bucket of `burst` tokens refilled with `rps`
 * tokens every second. Proxyless gRPC has no local rate limit filter (grpc-js
 * registers only router, fault and RBAC; A39); grpc-gaps.ts reports it.
 */
import { builtin, type TranslateContext } from './context';
import type { NodeDraft } from './draft';

export const RATE_LIMIT_FILL_INTERVAL_MS = 1000;

export function rateLimitProcessor(_ctx: TranslateContext, draft: NodeDraft): void {
  const policy = draft.policies?.rateLimit;
  if (!policy || draft.kind !== 'envoy' || !draft.inbound) return;
  draft.inbound.rateLimit = {
    rps: policy.rps,
    burst: policy.burst,
    fillIntervalMs: builtin(RATE_LIMIT_FILL_INTERVAL_MS),
  };
}
