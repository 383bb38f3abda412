/**
 * Processor: circuit breakers (keyed by the callee, applied to every cluster
 * of that callee on each caller).
 *
 * - max_failures counts failed CALLS, as the calling app sees them; Envoy's
 *   outlier detection counts failed ATTEMPTS on one instance, and a call
 *   that fails makes 1 + retries attempts. So on Envoy sidecars the
 *   thresholds are max_failures x (1 + retries of the route) when the route
 *   retries server errors (5xx or gateway-error), else max_failures: exact
 *   when a call's attempts all reach the same instance (always so with a
 *   single instance). Where the two differ (a dead callee sidecar refusing
 *   connections under a connect-failure-only retry policy), the circuit opens
 *   sooner, never later. When non-idempotent requests are not retried on
 *   server errors (the default, retries.ts), a failed POST is one attempt and
 *   the threshold stays max_failures: idempotent calls, retried, then open
 *   the circuit sooner (after max_failures attempts). With
 *   several instances, retries on healthy ones hide failures from the app,
 *   and a failing instance is ejected after that many of its own failed
 *   attempts. 5xx, gateway errors and local-origin failures (connect
 *   timeouts, resets) each count, so an instance that stops answering is
 *   ejected as fast as one answering 5xx. Proxyless gRPC keeps max_failures
 *   as its request volume (grpc-gaps.ts, MESH070).
 * - reset_seconds -> base ejection time, and the maximum ejection time too:
 *   Envoy multiplies the base by the number of times the host was ejected;
 *   the language says the circuit closes after reset_seconds, every time.
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
import type { CircuitBreakerPolicy, Provenance } from '../model/types';
import { builtin, type TranslateContext } from './context';
import type { NodeDraft } from './draft';

export const OUTLIER_INTERVAL_MS = 1000;
export const MAX_EJECTION_PERCENT = 100;

export function circuitBreakerProcessor(_ctx: TranslateContext, draft: NodeDraft): void {
  for (const up of draft.upstreams) {
    const policy = up.policies.circuitBreaker;
    if (!policy) continue;
    // Only when every call retries server errors: with non-idempotent requests narrowed to
    // never-sent failures (retries.ts), their failed calls are one attempt each.
    const retried = draft.kind === 'envoy' && up.retry && !up.retry.nonIdempotent && retriesServerErrors(up.retry.retryOn.value) ? up.retry : undefined;
    const outlier = retried ? outlierFor(policy, 1 + retried.numRetries.value, retried.numRetries.from) : outlierFor(policy);
    const limits = limitsFor(policy);
    for (const cluster of up.clusters) {
      cluster.outlier = outlier;
      cluster.limits = limits;
    }
  }
}

/**
 * Whether a failing instance's answers (5xx, gateway errors: what an app that
 * errs or is down behind its sidecar gives) are retried. Only then does a failed
 * call cost 1 + retries attempts; with connect-failure alone, an app's 503 is
 * one attempt per call, and counting retries would keep the circuit shut for
 * (1 + retries) x max_failures calls.
 */
function retriesServerErrors(retryOn: readonly string[]): boolean {
  return retryOn.includes('5xx') || retryOn.includes('gateway-error');
}

export function outlierFor(policy: CircuitBreakerPolicy, attemptsPerCall = 1, attemptsFrom: Provenance = builtin(1).from): OutlierIR {
  return {
    failedCalls: policy.maxFailures,
    attemptsPerCall: { value: attemptsPerCall, from: attemptsFrom },
    consecutiveFailures: { value: policy.maxFailures.value * attemptsPerCall, from: policy.maxFailures.from },
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
