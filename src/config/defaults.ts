/**
 * Built-in defaults, in one place (documented in docs/policy-language.md).
 * Where Envoy has a default we take Envoy's, so a policy that says nothing
 * behaves as a hand-written Envoy config that says nothing.
 */
export const BUILTIN = {
  meshName: 'mesh',
  trustDomain: 'cluster.local',
  outboundPort: 15001,
  inboundPort: 15006,
  adminPort: 15000,
  controlPlaneAddress: '127.0.0.1',
  xdsPort: 18000,
  controlPlaneAdminPort: 18001,
  grpcXdsPort: 18002,
  pkiDir: 'pki',
  /** Envoy's outlier detection defaults: consecutive_5xx 5, base_ejection_time 30s. */
  maxFailures: 5,
  resetSeconds: 30,
  /** Envoy's circuit breaker defaults. */
  maxConnections: 1024,
  maxPendingRequests: 1024,
  maxRequests: 1024,
  /** Istio's default retry policy: 2 retries on connection-level failures only (safe for non-idempotent calls). */
  retryAttempts: 2,
  retryOn: ['connect-failure', 'refused-stream', 'unavailable'] as readonly string[],
  /** Envoy's default route timeout. */
  requestTimeoutMs: 15_000,
} as const;
