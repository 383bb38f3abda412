/**
 * The mesh's event bus: occurrences in, coalesced CloudEvents out to every
 * configured sink (sinks.ts) and to a bounded ring of recent events that
 * `mesh events` reads through the admin API.
 *
 * Other parts of the control plane emit through `emitMeshEvent` (below):
 * the tap derives data-plane events (derive.ts), xDS NACKs and certificate
 * expiry are fed in by src/xds/serve.ts, and issue 18's guardrail emits
 * `mesh.guardrail_blocked` the same way (docs/events.md).
 */
import { Coalescer, type Coalesced } from './coalesce';
import { meshEvent, type MeshEvent, type MeshEventType } from './cloudevent';
import type { EventSink } from './sinks';

/** Recent events kept for `mesh events` (a ring; older ones are only at the sinks). */
export const RECENT_EVENTS = 1000;
export const DEFAULT_COALESCE_MS = 1000;

export interface RecentEvent {
  readonly seq: number;
  readonly event: MeshEvent;
}

export class EventBus {
  private sinks: EventSink[] = [];
  private coalescer: Coalescer;
  private readonly ring: RecentEvent[] = [];
  private seq = 0;
  private readonly listeners = new Set<(e: MeshEvent) => void>();
  emitted = 0;

  constructor(
    private source: string,
    coalesceMs: number = DEFAULT_COALESCE_MS,
  ) {
    this.coalescer = new Coalescer(coalesceMs, (c) => this.publish(coalescedEvent(this.source, c)));
  }

  /** A new configuration (an apply): new sinks and window; open windows are emitted first. */
  configure(source: string, coalesceMs: number, sinks: EventSink[]): void {
    this.coalescer.flush();
    for (const s of this.sinks) if (!sinks.includes(s)) s.close();
    this.source = source;
    this.coalescer = new Coalescer(coalesceMs, (c) => this.publish(coalescedEvent(this.source, c)));
    this.sinks = sinks;
    for (const s of sinks) s.onDropsReported = (n, since) => this.publishNow('mesh.events_dropped', s.name, `${s.name}@${since}`, Date.now(), { sink: s.name, dropped: n, since: new Date(since).toISOString() });
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** An occurrence to coalesce with others of the same type and subject in the window. */
  occur(type: MeshEventType, subject: string, atMs: number, data: Record<string, unknown>, traceId?: string): void {
    this.coalescer.add({ type, subject, atMs, data, ...(traceId ? { traceId } : {}) });
  }

  /** An event that is not coalesced (state changes: circuit open/closed, a NACK, a certificate), identified by `occurrenceKey`. */
  publishNow(type: MeshEventType, subject: string, occurrenceKey: string, atMs: number, data: Record<string, unknown>): MeshEvent {
    const e = meshEvent(this.source, type, subject, occurrenceKey, atMs, data);
    this.publish(e);
    return e;
  }

  recent(after: number, limit: number): MeshEvent[] {
    return this.ring.filter((r) => r.seq > after).slice(0, Math.max(0, limit)).map((r) => ({ ...r.event, hmsseq: r.seq }) as MeshEvent);
  }

  onEvent(l: (e: MeshEvent) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private publish(e: MeshEvent): void {
    this.emitted++;
    this.ring.push({ seq: ++this.seq, event: e });
    if (this.ring.length > RECENT_EVENTS) this.ring.shift();
    for (const s of this.sinks) s.deliver(e);
    for (const l of this.listeners) l(e);
  }

  /** Emits what is still coalescing and stops the sinks (their spools keep what is undelivered). */
  close(): void {
    this.coalescer.flush();
    for (const s of this.sinks) s.close();
    this.sinks = [];
  }

  sinkStats(): Array<{ name: string; pending: number; spoolBytes: number; delivered: number; dropped: number; failures: number }> {
    return this.sinks.map((s) => ({ name: s.name, ...s.stats() }));
  }
}

function coalescedEvent(source: string, c: Coalesced): MeshEvent {
  // The window's start identifies the occurrence: a replay of the same window has the same id.
  return meshEvent(source, c.type as MeshEventType, c.subject, String(c.firstMs), c.firstMs, {
    ...c.data,
    count: c.count,
    first: new Date(c.firstMs).toISOString(),
    last: new Date(c.lastMs).toISOString(),
    trace_ids: c.traceIds,
  });
}

let current: EventBus | undefined;

/** The bus `emitMeshEvent` sends to (set by the running control plane; undefined when none runs). */
export function setEventBus(bus: EventBus | undefined): void {
  current = bus;
}

/**
 * Emit a mesh event from anywhere in the control plane, e.g.
 *   emitMeshEvent('mesh.guardrail_blocked', 'payer->bank', { rule: 'max_retries', file: 'mesh_policies.yml', line: 12 })
 * Occurrences of the same type and subject are coalesced per window (with a
 * count). Returns false when no control plane runs in this process.
 */
export function emitMeshEvent(type: MeshEventType, subject: string, data: Record<string, unknown> = {}, opts: { atMs?: number; traceId?: string } = {}): boolean {
  if (!current) return false;
  current.occur(type, subject, opts.atMs ?? Date.now(), data, opts.traceId);
  return true;
}
