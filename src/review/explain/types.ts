/**
 * What `mesh explain` answers, as plain JSON-ready data. Values are read from
 * the compiled Envoy resources (what the data plane is told); `from` is the
 * provenance the IR recorded for them.
 */
import type { NodeKind } from '../../ir/types';
import type { ProvenanceJson } from '../provenance';

export interface ExplainRequest {
  /** Default GET. */
  readonly method?: string;
  /** Default `/`. */
  readonly path?: string;
  /** Extra request headers; `host` (or `:authority`) overrides the authority, which defaults to the callee's name. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Sourced<T> {
  readonly value: T;
  readonly from: ProvenanceJson;
}

/** allowed: the request reaches the callee's app. denied: the callee's RBAC rejects it. no-route: the caller's proxy has nowhere to send it. */
export type Verdict = 'allowed' | 'denied' | 'no-route';

export interface ExplainResult {
  readonly caller: string;
  readonly callee: string;
  readonly request: { readonly method: string; readonly path: string; readonly authority: string; readonly headers: Readonly<Record<string, string>> };
  readonly verdict: Verdict;
  /** One sentence: why. */
  readonly reason: string;
  /** The caller's `calls:` entry for the callee, if it declares one. */
  readonly declaredCall?: ProvenanceJson;
  readonly access: AccessAnswer;
  readonly mtls: MtlsAnswer;
  /** Absent when the caller's proxy has no route for the request. */
  readonly route?: RouteAnswer;
  /** Upstream clusters of the caller's proxy for the callee (does the sidecar know the callee at all?). */
  readonly callerClusters: readonly string[];
  readonly rateLimit?: RateLimitAnswer;
  /** The callee's inbound route timeout (Envoy sidecars). */
  readonly inboundTimeout?: Sourced<string>;
  /** What else a reader should know: policies the node cannot enforce, versions without endpoints... */
  readonly notes: readonly string[];
}

export interface AccessAnswer {
  readonly decision: 'allow' | 'deny';
  /** The callee listener whose RBAC filter decided. */
  readonly listener: string;
  /** The identity the callee sees (the caller's certificate URI SAN). */
  readonly principal: string;
  readonly action: 'ALLOW' | 'DENY' | 'LOG' | 'none';
  /** The RBAC policy that matched (`allow|<caller>`), when one did. */
  readonly policy?: string;
  /** The access rule behind that policy (the `allow:` entry). */
  readonly rule?: ProvenanceJson;
  /** The callee's access policy block, or builtin (default deny: no policy). */
  readonly accessPolicy: ProvenanceJson;
  readonly unsupported: readonly string[];
}

export interface MtlsAnswer {
  /** The callee's listener accepts the caller's certificate SAN. */
  readonly calleeAcceptsCaller: boolean;
  /** The caller's clusters accept the callee's certificate SAN (undefined without a cluster). */
  readonly callerAcceptsCallee?: boolean;
}

export interface RouteAnswer {
  readonly proxy: NodeKind;
  readonly listener: string;
  readonly routeConfig: string;
  readonly virtualHost: string;
  readonly matchedDomain: string;
  readonly route: string;
  readonly clusters: readonly ClusterAnswer[];
  readonly split?: ProvenanceJson;
  readonly retry?: RetryAnswer;
  readonly timeout?: Sourced<string>;
  /** The `routes:` entry the request matched; absent: the callee's own route. */
  readonly rule?: ProvenanceJson;
  /** Fault injection on the matched route (chaos testing). */
  readonly fault?: FaultAnswer;
}

export interface FaultAnswer {
  readonly delay?: { readonly fixed: Sourced<string>; readonly percent: Sourced<number> };
  readonly abort?: { readonly status: Sourced<number>; readonly percent: Sourced<number> };
}

export interface RetryAnswer {
  readonly numRetries: Sourced<number>;
  readonly retryOn: Sourced<string>;
  readonly perTryTimeout?: Sourced<string>;
}

export interface ClusterAnswer {
  readonly name: string;
  readonly version?: string;
  readonly weight: Sourced<number>;
  /** Share of requests, 0-100. */
  readonly percent: number;
  /** The caller's proxy has this cluster (a route to a missing cluster fails with 503 NC). */
  readonly present: boolean;
  /** Static endpoints in the compiled EDS resource (live instances register with the control plane). */
  readonly staticEndpoints: number;
  readonly connectTimeout?: Sourced<string>;
  readonly circuitBreaker?: CircuitBreakerAnswer;
}

export interface CircuitBreakerAnswer {
  /** max_failures: failed calls, as the calling app sees them, that open the circuit. */
  readonly openAfterFailedCalls?: Sourced<number>;
  /** Envoy: consecutive_5xx (failed attempts: calls x (1 + retries)); gRPC: failure_percentage_request_volume (A50). */
  readonly ejectAfterFailures?: Sourced<number>;
  readonly baseEjectionTime?: Sourced<string>;
  readonly interval?: Sourced<string>;
  readonly maxEjectionPercent?: Sourced<number>;
  readonly maxConnections?: Sourced<number>;
  readonly maxPendingRequests?: Sourced<number>;
  readonly maxRequests?: Sourced<number>;
  readonly maxRetries?: Sourced<number>;
}

export interface RateLimitAnswer {
  readonly listener: string;
  readonly tokensPerFill: Sourced<number>;
  readonly maxTokens: Sourced<number>;
  readonly fillInterval: Sourced<string>;
}
