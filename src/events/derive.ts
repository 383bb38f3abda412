/**
 * Data-plane events from the tap's records (what Envoy reports, nothing guessed):
 * - mesh.timeout: an outbound record with UT (the route timeout of the caller's sidecar);
 * - mesh.rate_limited: an inbound record with RL or 429 (the callee's local rate limit);
 * - mesh.denied: an inbound 403 whose details say RBAC denied it (the callee's access policy);
 * - mesh.circuit_open: an outbound record with UH (every instance ejected by outlier
 *   detection, which is how `circuit_breakers` compiles) or UO (a connection-pool limit),
 *   once per pair when its state goes from closed to open;
 * - mesh.circuit_closed: the next outbound record of an open pair answered by an upstream
 *   instance again.
 * Open/closed come from records rather than Envoy's outlier event log
 * (outlier_detection.event_log_path) because that log is a file on the sidecar's
 * host, which a control plane elsewhere cannot read, and Envoy's admin port is
 * loopback-only by design (docs/events.md, "Where events come from").
 */
import { serviceOfSpiffeId, type TapRecord } from '../tap/record';
import type { EventBus } from './bus';

/** Pairs whose circuit state is tracked (bounded; the oldest state is forgotten past it). */
export const MAX_TRACKED_PAIRS = 10_000;

export class RecordEvents {
  /** pair -> the instance that last failed before the circuit opened, while open. */
  private readonly open = new Map<string, { since: number; instance: string }>();
  private readonly lastFailedHost = new Map<string, string>();

  constructor(private readonly bus: EventBus) {}

  observe(r: TapRecord): void {
    const caller = serviceOfSpiffeId(r.caller) || (r.direction === 'outbound' ? r.node : '');
    const callee = serviceOfSpiffeId(r.callee) || (r.direction === 'inbound' ? r.node : '');
    if (!callee) return;
    const pair = `${caller || 'unknown'}->${callee}`;
    const base = { caller: r.caller, callee: r.callee, reporter: r.node, direction: r.direction };
    const end = r.startMs + r.durationMs;
    if (r.direction === 'outbound') {
      if (r.flags.includes('UT')) this.bus.occur('mesh.timeout', pair, end, { ...base, upstream_host: r.upstreamHost, status: r.status }, r.traceId);
      this.circuit(r, pair, base, end);
      return;
    }
    if (r.flags.includes('RL') || r.status === 429) this.bus.occur('mesh.rate_limited', pair, end, { ...base, status: r.status }, r.traceId);
    if (r.status === 403 && r.details.startsWith('rbac_access_denied')) this.bus.occur('mesh.denied', pair, end, { ...base, status: r.status, details: r.details }, r.traceId);
  }

  private circuit(r: TapRecord, pair: string, base: Record<string, unknown>, end: number): void {
    const service = serviceOfSpiffeId(r.callee);
    const openNow = r.flags.includes('UH') || r.flags.includes('UO');
    const state = this.open.get(pair);
    if (openNow && !state) {
      const instance = this.lastFailedHost.get(pair) ?? '';
      if (this.open.size >= MAX_TRACKED_PAIRS) this.open.delete(this.open.keys().next().value as string);
      this.open.set(pair, { since: end, instance });
      this.bus.publishNow('mesh.circuit_open', pair, `open@${end}`, end, { ...base, service, instance, reason: r.flags.includes('UO') ? 'upstream overflow (connection pool limit)' : 'no healthy upstream (instances ejected)', trace_id: r.traceId });
      return;
    }
    if (!openNow && r.upstreamHost) {
      if (r.status >= 500 || r.status === 0) {
        if (this.lastFailedHost.size >= MAX_TRACKED_PAIRS && !this.lastFailedHost.has(pair)) this.lastFailedHost.delete(this.lastFailedHost.keys().next().value as string);
        this.lastFailedHost.set(pair, r.upstreamHost);
      }
      if (state) {
        this.open.delete(pair);
        this.bus.publishNow('mesh.circuit_closed', pair, `closed@${state.since}`, end, { ...base, service, instance: r.upstreamHost, opened: new Date(state.since).toISOString(), trace_id: r.traceId });
      }
    }
  }
}
