/**
 * Data-plane events from the tap's records (what Envoy reports, nothing guessed):
 * - mesh.timeout: a record with UT. The route timeout is set on both sidecars of
 *   a pair (the caller's outbound route and the callee's inbound one), and the
 *   first to fire answers 504: either the caller's outbound record has UT, or
 *   the callee's inbound one has (and the caller relays its 504). One event
 *   per request: the second UT record of the same trace id is not counted;
 * - mesh.rate_limited: an inbound record with RL or 429 (the callee's local rate limit);
 * - mesh.denied: an inbound 403 whose details say RBAC denied it (the callee's access policy);
 * - mesh.circuit_open: an outbound record with UH (every instance ejected by outlier
 *   detection, which is how `circuit_breakers` compiles) or UO (a connection-pool limit),
 *   once per pair when its state goes from closed to open;
 * - mesh.circuit_closed: the next outbound record of an open pair answered by an upstream
 *   instance again;
 * - mesh.guardrail_blocked: an outbound record carrying the guardrail's verdict (the
 *   dynamic metadata its Lua filter set on a refusal): rule, reason, caller, callee,
 *   never the matched value (the record has none).
 * Open/closed come from records rather than Envoy's outlier event log
 * (outlier_detection.event_log_path) because that log is a file on the sidecar's
 * host, which a control plane elsewhere cannot read, and Envoy's admin port is
 * loopback-only by design (docs/events.md, "Where events come from").
 */
import { serviceOfSpiffeId, type TapRecord } from '../tap/record';
import type { EventBus } from './bus';

/** Pairs whose circuit state is tracked (bounded; the oldest state is forgotten past it). */
export const MAX_TRACKED_PAIRS = 10_000;

/**
 * mesh.circuit_open waits this long before it is sent, so that the failures
 * which opened the circuit, still in another worker's buffer (flushed every
 * 200 ms), are in and the event names the instance.
 */
export const OPEN_GRACE_MS = 1000;

/** Trace ids of recent timeouts, so a request both sidecars timed out counts once (bounded). */
export const MAX_TIMED_OUT_TRACES = 10_000;

function remember<K, V>(m: Map<K, V>, k: K, v: V, cap: number): void {
  if (!m.has(k) && m.size >= cap) m.delete(m.keys().next().value as K);
  m.set(k, v);
}

/**
 * Records do not arrive in time order: each Envoy worker thread has its own
 * access-log buffer, flushed on its own. The circuit state of a pair therefore
 * changes only on a record that ended after its last change (a late 500 from
 * before the opening does not close it; a late UH from before the closing
 * does not open it again).
 */
export class RecordEvents {
  /** pair -> the instance that last failed before the circuit opened, while open. */
  private readonly open = new Map<string, { since: number; instance: string }>();
  /** pair -> the instance of its latest failed request (by end time). */
  private readonly lastFailedHost = new Map<string, { host: string; end: number }>();
  /** pair -> its circuit_open event, held for OPEN_GRACE_MS. */
  private readonly pendingOpen = new Map<string, () => void>();
  /** pair -> end of the record that last opened or closed its circuit. */
  private readonly changedAt = new Map<string, number>();
  private readonly timedOut = new Map<string, true>();

  constructor(
    private readonly bus: EventBus,
    private readonly openGraceMs: number = OPEN_GRACE_MS,
  ) {}

  observe(r: TapRecord): void {
    if (r.guardrail && r.direction === 'outbound') this.guardrailBlocked(r);
    const caller = serviceOfSpiffeId(r.caller) || (r.direction === 'outbound' ? r.node : '');
    const callee = serviceOfSpiffeId(r.callee) || (r.direction === 'inbound' ? r.node : '');
    if (!callee) return;
    const pair = `${caller || 'unknown'}->${callee}`;
    const base = { caller: r.caller, callee: r.callee, reporter: r.node, direction: r.direction };
    const end = r.startMs + r.durationMs;
    if (r.flags.includes('UT') && !(r.traceId && this.timedOut.has(r.traceId))) {
      if (r.traceId) remember(this.timedOut, r.traceId, true, MAX_TIMED_OUT_TRACES);
      this.bus.occur('mesh.timeout', pair, end, { ...base, upstream_host: r.upstreamHost, status: r.status }, r.traceId);
    }
    if (r.direction === 'outbound') {
      this.circuit(r, pair, base, end);
      return;
    }
    if (r.flags.includes('RL') || r.status === 429) this.bus.occur('mesh.rate_limited', pair, end, { ...base, status: r.status }, r.traceId);
    if (r.status === 403 && r.details.startsWith('rbac_access_denied')) this.bus.occur('mesh.denied', pair, end, { ...base, status: r.status, details: r.details }, r.traceId);
  }

  /**
   * The caller is the reporting node (a sidecar reports its own outbound calls,
   * authenticated by its certificate); the callee is a mesh service (its
   * SPIFFE id) or an external system (its name, `callee_external`). One event
   * per pair and rule per coalescing window (the subject names the rule: two
   * rules refusing on one pair are two events).
   */
  private guardrailBlocked(r: TapRecord): void {
    const g = r.guardrail!;
    const callee = g.external ? g.callee : r.callee || g.callee;
    this.bus.occur('mesh.guardrail_blocked', `${r.node}->${g.callee}/${g.rule}`, r.startMs + r.durationMs, {
      rule: g.rule,
      reason: g.reason,
      ...(g.header ? { header: g.header } : {}),
      caller: r.caller,
      callee,
      callee_external: g.external,
      reporter: r.node,
      direction: r.direction,
      status: r.status,
    }, r.traceId);
  }

  private circuit(r: TapRecord, pair: string, base: Record<string, unknown>, end: number): void {
    const service = serviceOfSpiffeId(r.callee);
    const openNow = r.flags.includes('UH') || r.flags.includes('UO');
    if (!openNow && r.upstreamHost && (r.status >= 500 || r.status === 0) && end > (this.lastFailedHost.get(pair)?.end ?? -Infinity)) {
      remember(this.lastFailedHost, pair, { host: r.upstreamHost, end }, MAX_TRACKED_PAIRS);
    }
    if (end <= (this.changedAt.get(pair) ?? -Infinity)) return;
    const state = this.open.get(pair);
    if (openNow && !state) {
      remember(this.changedAt, pair, end, MAX_TRACKED_PAIRS);
      const opened = { since: end, instance: '' };
      if (this.open.size >= MAX_TRACKED_PAIRS) this.open.delete(this.open.keys().next().value as string);
      this.open.set(pair, opened);
      // The failures that opened it may still be in another worker's buffer: name the instance after a grace.
      const publish = (): void => {
        if (this.pendingOpen.get(pair) !== publish) return;
        this.pendingOpen.delete(pair);
        opened.instance = this.lastFailedHost.get(pair)?.host ?? '';
        this.bus.publishNow('mesh.circuit_open', pair, `open@${end}`, end, { ...base, service, instance: opened.instance, reason: r.flags.includes('UO') ? 'upstream overflow (connection pool limit)' : 'no healthy upstream (instances ejected)', trace_id: r.traceId });
      };
      remember(this.pendingOpen, pair, publish, MAX_TRACKED_PAIRS);
      setTimeout(publish, this.openGraceMs).unref();
      return;
    }
    if (!openNow && r.upstreamHost && state) {
      this.pendingOpen.get(pair)?.();
      remember(this.changedAt, pair, end, MAX_TRACKED_PAIRS);
      this.open.delete(pair);
      this.bus.publishNow('mesh.circuit_closed', pair, `closed@${state.since}`, end, { ...base, service, instance: r.upstreamHost, opened: new Date(state.since).toISOString(), trace_id: r.traceId });
    }
  }
}
