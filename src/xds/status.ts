/**
 * What each node has been sent, has ACKed and has NACKed, per type: the data
 * behind `mesh status` (like `istioctl proxy-status`) and `mesh apply --wait`.
 */
import type { ResourceKind } from '../envoy/resources';

export interface TypeStatus {
  /** Last version sent (pending until ACKed or NACKed). */
  sentVersion?: string;
  sentAt?: number;
  sentNonce?: string;
  ackedVersion?: string;
  ackedAt?: number;
  lastNack?: { version: string; message: string; at: number };
}

export interface NodeStatus {
  readonly node: string;
  connectedSince?: number;
  streams: number;
  readonly types: Partial<Record<ResourceKind, TypeStatus>>;
}

export interface StatusListener {
  onAck?(node: string, kind: ResourceKind, version: string, latencyMs: number | undefined): void;
  onNack?(node: string, kind: ResourceKind, version: string, message: string): void;
}

export class StatusBoard {
  private readonly nodes = new Map<string, NodeStatus>();
  private readonly listeners = new Set<StatusListener>();

  constructor(private readonly now: () => number = Date.now) {}

  subscribe(l: StatusListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private node(id: string): NodeStatus {
    let n = this.nodes.get(id);
    if (!n) {
      n = { node: id, streams: 0, types: {} };
      this.nodes.set(id, n);
    }
    return n;
  }

  private type(id: string, kind: ResourceKind): TypeStatus {
    const n = this.node(id);
    return (n.types[kind] ??= {});
  }

  connected(id: string): void {
    const n = this.node(id);
    if (n.streams++ === 0) n.connectedSince = this.now();
  }

  disconnected(id: string): void {
    const n = this.node(id);
    n.streams = Math.max(0, n.streams - 1);
    if (n.streams === 0) n.connectedSince = undefined;
  }

  sent(id: string, kind: ResourceKind, version: string, nonce: string): void {
    const t = this.type(id, kind);
    t.sentVersion = version;
    t.sentNonce = nonce;
    t.sentAt = this.now();
  }

  acked(id: string, kind: ResourceKind, version: string, nonce?: string): void {
    const t = this.type(id, kind);
    const latency = nonce !== undefined && nonce === t.sentNonce && t.sentAt !== undefined ? this.now() - t.sentAt : undefined;
    t.ackedVersion = version;
    t.ackedAt = this.now();
    for (const l of this.listeners) l.onAck?.(id, kind, version, latency);
  }

  nacked(id: string, kind: ResourceKind, version: string, message: string): void {
    const t = this.type(id, kind);
    t.lastNack = { version, message, at: this.now() };
    for (const l of this.listeners) l.onNack?.(id, kind, version, message);
  }

  get(id: string): NodeStatus | undefined {
    return this.nodes.get(id);
  }

  all(): NodeStatus[] {
    return [...this.nodes.values()].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  }
}
