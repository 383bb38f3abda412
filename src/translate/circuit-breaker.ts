/**
 * Processor: circuit breakers (keyed by the callee, applied to every cluster
 * of that callee on each caller).
 *
 * - max_failures -> outlier detection on consecutive failures: 5xx, gateway
 *   errors and local-origin failures (connect timeouts, resets) each count, so
 *   an instance that stops answering is ejected as fast as one answering 5xx.
 * - reset_seconds -> base ejection time (Envoy multiplies it by the number of
 *   times the host was ejected).
 * - interval 1 s (builtin): consecutive-failure ejection is immediate in Envoy;
 *   the interval only paces un-ejection and the sweep, so a short interval
 *   returns hosts close to reset_seconds (Envoy's default is 10 s).
 * - max ejection 100 % (builtin): with one instance per version, the default
 *   10 % would never eject anything; Envoy then fails fast (503 UO), which is
 *   what "open circuit" means.
 * - limits -> circuit_breakers thresholds. max_retries is not in the policy
 *   language; it follows max_requests so that concurrent retries are bounded by
 *   the same budget as requests (Envoy's default of 3 would silently cancel
 *   the retry policy under load).
 */
import type { LimitsIR, OutlierIR } from '../ir/types';
import type { CircuitBreakerPolicy } from '../model/types';
import { builtin, type TranslateContext } from './context';
import type { NodeDraft } from './draft';

export const OUTLIER_INTERVAL_MS = 1000;
export const MAX_EJECTION_PERCENT = 100;

export function circuitBreakerProcessor(_ctx: TranslateContext, draft: NodeDraft): void {
  for (const up of draft.upstreams) {
    const policy = up.policies.circuitBreaker;
    if (!policy) continue;
    const outlier = outlierFor(policy);
    const limits = limitsFor(policy);
    for (const cluster of up.clusters) {
      cluster.outlier = outlier;
      cluster.limits = limits;
    }
  }
}

export function outlierFor(policy: CircuitBreakerPolicy): OutlierIR {
  return {
    consecutiveFailures: policy.maxFailures,
    baseEjectionMs: { value: Math.round(policy.resetSeconds.value * 1000), from: policy.resetSeconds.from },
    intervalMs: builtin(OUTLIER_INTERVAL_MS),
    maxEjectionPercent: builtin(MAX_EJECTION_PERCENT),
  };
}

export function limitsFor(policy: CircuitBreakerPolicy): LimitsIR {
  return {
    maxConnections: policy.maxConnections,
    maxPendingRequests: policy.maxPendingRequests,
    maxRequests: policy.maxRequests,
    maxRetries: { value: policy.maxRequests.value, from: policy.maxRequests.from },
  };
}
