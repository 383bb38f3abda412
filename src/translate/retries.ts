/**
 * Processor: retry policies (keyed by the callee, applied on the caller's route).
 *
 * Envoy takes the conditions as they are: RetryPolicy.retry_on accepts both
 * x-envoy-retry-on and x-envoy-retry-grpc-on values (route_components.proto).
 *
 * Proxyless gRPC only understands gRPC status names (A44, "Converting Envoy
 * RetryPolicy"): cancelled, deadline-exceeded, internal, resource-exhausted,
 * unavailable; it silently ignores the rest. Connection-level failures surface
 * in gRPC as UNAVAILABLE, so connect-failure, refused-stream and reset map to
 * `unavailable`; HTTP status conditions (5xx, gateway-error, retriable-4xx)
 * have no gRPC meaning and are dropped (reported as gaps by grpc-gaps.ts).
 *
 * attempts 0 emits no retry policy: gRPC NACKs num_retries < 1
 * (grpc-js-xds route-config-resource-type.ts validateRetryPolicy).
 */
import { uniqueSorted } from '../ir/sort';
import type { NodeKind, RetryIR } from '../ir/types';
import type { RetryPolicy } from '../model/types';
import type { TranslateContext } from './context';
import type { NodeDraft } from './draft';

/** x-envoy-retry-grpc-on values gRPC honours (A44). */
export const GRPC_RETRY_STATUSES: ReadonlySet<string> = new Set([
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
]);

/** Envoy connection-level conditions whose gRPC equivalent is status UNAVAILABLE. */
const GRPC_UNAVAILABLE_ALIASES: ReadonlySet<string> = new Set(['connect-failure', 'refused-stream', 'reset']);

export interface GrpcRetryMapping {
  /** Sorted gRPC status names. */
  readonly mapped: string[];
  /** Conditions with no gRPC equivalent, sorted. */
  readonly dropped: string[];
}

export function mapRetryOnForGrpc(conditions: readonly string[]): GrpcRetryMapping {
  const mapped: string[] = [];
  const dropped: string[] = [];
  for (const c of conditions) {
    if (GRPC_RETRY_STATUSES.has(c)) mapped.push(c);
    else if (GRPC_UNAVAILABLE_ALIASES.has(c)) mapped.push('unavailable');
    else dropped.push(c);
  }
  return { mapped: uniqueSorted(mapped), dropped: uniqueSorted(dropped) };
}

/**
 * Conditions under which the request never reached the service, so a retry
 * cannot run its work twice: the connection failed, or the upstream refused
 * the stream before reading it (HTTP/2 REFUSED_STREAM).
 */
export const NEVER_SENT_CONDITIONS: ReadonlySet<string> = new Set(['connect-failure', 'refused-stream']);

export function retriesProcessor(_ctx: TranslateContext, draft: NodeDraft): void {
  for (const up of draft.upstreams) {
    const retry = retryFor(draft.kind, up.policies.retries, up.target.protocol === 'http');
    if (retry) up.retry = retry;
  }
}

/** One retry policy as a node of `kind` runs it (also each route's own, translate/routes.ts). */
export function retryFor(kind: NodeKind, policy: RetryPolicy, httpCallee: boolean): RetryIR | undefined {
  return kind === 'grpc' ? grpcRetry(policy) : envoyRetry(policy, httpCallee);
}

/**
 * Envoy retries any method on any listed condition, and a per-try timeout
 * retries a request the service may still be working on: a slow POST would
 * run twice. The language retries non-idempotent HTTP requests only when they
 * never reached the service, unless the policy says `retry_non_idempotent`.
 * gRPC callees are left as written: every gRPC call is a POST, and its retry
 * conditions are status codes the service chose to return.
 */
function envoyRetry(policy: RetryPolicy, http: boolean): RetryIR | undefined {
  if (policy.attempts.value < 1) return undefined;
  const retryOn = uniqueSorted(policy.retryOn.value);
  // gRPC status conditions never fire on an HTTP callee's answers: they change nothing here.
  const safe = retryOn.filter((c) => NEVER_SENT_CONDITIONS.has(c) || GRPC_RETRY_STATUSES.has(c));
  const restrict = http && !policy.retryNonIdempotent.value && (safe.length < retryOn.length || policy.perTryTimeoutMs !== undefined);
  return {
    numRetries: policy.attempts,
    retryOn: { value: retryOn, from: policy.retryOn.from },
    ...(policy.perTryTimeoutMs ? { perTryTimeoutMs: policy.perTryTimeoutMs } : {}),
    ...(restrict ? { nonIdempotent: { retryOn: { value: safe, from: policy.retryNonIdempotent.from } } } : {}),
  };
}

/** per_try_timeout is left out: A44 lists it as unsupported ("Deferred or Unsupported Retry Features"). */
function grpcRetry(policy: RetryPolicy): RetryIR | undefined {
  if (policy.attempts.value < 1) return undefined;
  const { mapped } = mapRetryOnForGrpc(policy.retryOn.value);
  // A44: with no convertible condition gRPC uses no retry policy at all; say so by emitting none.
  if (mapped.length === 0) return undefined;
  return { numRetries: policy.attempts, retryOn: { value: mapped, from: policy.retryOn.from } };
}
