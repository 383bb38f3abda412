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
  /** The caller is an ingress gateway (its `routes:` are its calls). */
  readonly callerIsGateway?: boolean;
  /** The caller's `calls:` entry for the callee, if it declares one (a gateway: its first route to the callee). */
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
  /** Guardrail rules the caller's sidecar runs on this call; absent when none. */
  readonly guardrails?: readonly GuardrailAnswer[];
  /** What else a reader should know: policies the node cannot enforce, versions without endpoints... */
  readonly notes: readonly string[];
}

export interface GuardrailAnswer {
  readonly rule: string;
  readonly detect: readonly string[];
  readonly inspect: readonly string[];
  readonly maxBodyBytes: number;
  readonly fail: 'closed' | 'open';
  /** The `guardrails.<rule>` entry. */
  readonly from: ProvenanceJson;
  /** The compiled virtual host carries the rule's script (false: a bug, or a hand-edited resource). */
  readonly enforced: boolean;
  /** The first request header (pseudo-headers included) in which the rule finds what it detects. */
  readonly refusesHeader?: string;
}

/**
 * `mesh explain <caller> <external>`, or a host the mesh does not declare:
 * there is no callee sidecar, so the caller's sidecar decides everything. It
 * has a virtual host for an external system only when the call is declared
 * and allowed; any other host gets 404 with `x-mesh-error: no-route`.
 */
export interface ExternalExplainResult {
  readonly kind: 'external';
  readonly caller: string;
  /** The external system's name, or the host as asked. */
  readonly callee: string;
  readonly request: ExplainResult['request'];
  readonly verdict: Verdict;
  readonly reason: string;
  /** What the caller's sidecar answers when it refuses (it never sends the request on). */
  readonly refusal?: { readonly status: number; readonly meshError: string; readonly guardrail?: string };
  /** The `externals.<name>` declaration; absent for a host the mesh does not declare. */
  readonly external?: { readonly name: string; readonly host: string; readonly port: number; readonly address?: string; readonly from: ProvenanceJson };
  readonly declaredCall?: ProvenanceJson;
  /** access.<external>: the rule allowing the caller, or the policy (or builtin default deny) that does not. */
  readonly access?: { readonly allowed: boolean; readonly rule?: ProvenanceJson; readonly accessPolicy: ProvenanceJson };
  readonly route?: ExternalRouteAnswer;
  readonly guardrails: readonly GuardrailAnswer[];
  readonly notes: readonly string[];
}

export interface ExternalRouteAnswer {
  readonly listener: string;
  readonly routeConfig: string;
  readonly virtualHost: string;
  readonly matchedDomain: string;
  readonly route: string;
  readonly cluster: string;
  /** The caller's proxy has the cluster. */
  readonly present: boolean;
  /** Host the request is sent with (host_rewrite_literal). */
  readonly hostRewrite?: string;
  /** Where the cluster connects (the declared address, or the host resolved by DNS). */
  readonly upstream?: string;
  /** TLS the sidecar originates, as the cluster's UpstreamTlsContext says. */
  readonly tls?: { readonly sni: string; readonly caFile: string; readonly subjectAltNames: readonly string[]; readonly from: ProvenanceJson };
  readonly timeout?: Sourced<string>;
  readonly retry?: RetryAnswer;
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
  /** An ingress gateway's route: the service it sends the request to (routes pick the service by host and path). */
  readonly service?: string;
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
