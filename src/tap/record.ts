/**
 * One access-log record as the tap keeps it: what a sidecar (or a proxyless
 * member through the SDK) reports about one HTTP request, flattened from
 * Envoy's HTTPAccessLogEntry (envoy/data/accesslog/v3/accesslog.proto).
 *
 * `node` and `reporter` are the sender's, taken from its certificate by the
 * server (src/tap/als-service.ts), never from the message.
 */
export type Direction = 'inbound' | 'outbound';

export interface TapRecord {
  /** Arrival order in the store (1, 2, ...): the cursor of `mesh logs --follow`. */
  seq: number;
  /** The reporting node (the service name in its certificate's SPIFFE id). */
  readonly node: string;
  readonly direction: Direction;
  readonly traceId: string;
  /** Request start, ms since the epoch. */
  readonly startMs: number;
  readonly durationMs: number;
  readonly method: string;
  readonly authority: string;
  readonly path: string;
  /** 0 when no response was sent (the downstream went away). */
  readonly status: number;
  /** Envoy's short response flags (UT, UH, UO, RL, ...), sorted. */
  readonly flags: readonly string[];
  readonly upstreamCluster: string;
  readonly upstreamHost: string;
  /** SPIFFE ids: who called and who was called. */
  readonly caller: string;
  readonly callee: string;
  /** Envoy's response_code_details (e.g. rbac_access_denied_matched_policy[none]). */
  readonly details: string;
  /** Approximate bytes the record holds in memory: what the store's byte cap counts. */
  readonly size: number;
  /** Set when the compliance guardrail refused the request (outbound only; never the matched value). */
  readonly guardrail?: GuardrailVerdict;
}

/**
 * What the guardrail's Lua filter left in the dynamic metadata `mesh.guardrail`
 * (src/envoy/filters/guardrail.ts) of a request it refused.
 */
export interface GuardrailVerdict {
  readonly rule: string;
  /** body | header | over-window | inspection-error */
  readonly reason: string;
  /** The callee's name: a mesh service, or an external system when `external`. */
  readonly callee: string;
  readonly external: boolean;
  /** For reason "header": the name of the header that matched (its value is never reported). */
  readonly header?: string;
}

/** Envoy's ResponseFlags fields -> the short flag (Envoy's access-log format) and the words `mesh trace` prints. */
export const RESPONSE_FLAGS: Readonly<Record<string, readonly [string, string]>> = {
  failed_local_healthcheck: ['LH', 'failed local health check'],
  no_healthy_upstream: ['UH', 'no healthy upstream (circuit open)'],
  upstream_request_timeout: ['UT', 'timeout'],
  local_reset: ['LR', 'local reset'],
  upstream_remote_reset: ['UR', 'upstream reset'],
  upstream_connection_failure: ['UF', 'upstream connection failure'],
  upstream_connection_termination: ['UC', 'upstream connection terminated'],
  upstream_overflow: ['UO', 'circuit open (upstream overflow)'],
  no_route_found: ['NR', 'no route'],
  delay_injected: ['DI', 'delay injected'],
  fault_injected: ['FI', 'fault injected'],
  rate_limited: ['RL', 'rate limited'],
  rate_limit_service_error: ['RLSE', 'rate limit service error'],
  downstream_connection_termination: ['DC', 'caller went away'],
  upstream_retry_limit_exceeded: ['URX', 'retries exhausted'],
  stream_idle_timeout: ['SI', 'idle timeout'],
  invalid_envoy_request_headers: ['IH', 'invalid x-envoy headers'],
  downstream_protocol_error: ['DPE', 'caller protocol error'],
  upstream_max_stream_duration_reached: ['UMSDR', 'max stream duration reached'],
  response_from_cache_filter: ['RFCF', 'from cache'],
  no_filter_config_found: ['NFCF', 'no filter config'],
  duration_timeout: ['DT', 'duration timeout'],
  upstream_protocol_error: ['UPE', 'upstream protocol error'],
  no_cluster_found: ['NC', 'no cluster'],
  overload_manager: ['OM', 'overloaded'],
  dns_resolution_failure: ['DF', 'DNS failure'],
  downstream_remote_reset: ['DR', 'caller reset'],
};
const WORDS = new Map(Object.values(RESPONSE_FLAGS));

/** "UT" -> "timeout"; a denial (403 from RBAC) has no Envoy flag and gets its words from the details. */
export function flagWords(r: Pick<TapRecord, 'flags' | 'details' | 'guardrail'>): string[] {
  const words = r.flags.map((f) => WORDS.get(f) ?? f);
  if (r.details.startsWith('rbac_access_denied')) words.push('denied');
  if (r.guardrail) words.push(`refused by guardrail ${r.guardrail.rule} (${r.guardrail.reason})`);
  return words;
}

/** Bytes a record holds, roughly: its strings plus a fixed overhead for the object and numbers. */
export function recordSize(r: Omit<TapRecord, 'size' | 'seq'>): number {
  let n = 160;
  for (const s of [r.node, r.traceId, r.method, r.authority, r.path, r.upstreamCluster, r.upstreamHost, r.caller, r.callee, r.details]) n += s.length * 2;
  const g = r.guardrail;
  return n + r.flags.length * 16 + (g ? 64 + (g.rule.length + g.reason.length + g.callee.length + (g.header?.length ?? 0)) * 2 : 0);
}

/** The service a cluster name points to (`outbound|bank` or `outbound|bank|v2`), or '' for none. */
export function serviceOfCluster(cluster: string): string {
  const m = /^outbound\|([^|]+)/.exec(cluster);
  return m ? m[1]! : '';
}

/** The service of a mesh SPIFFE id (spiffe://td/svc/<name>), or '' for another kind. */
export function serviceOfSpiffeId(id: string): string {
  const m = /^spiffe:\/\/[^/]+\/svc\/([^/]+)$/.exec(id);
  return m ? m[1]! : '';
}
