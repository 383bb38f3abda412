/**
 * Incremental ADS (DeltaAggregatedResources): only changed resources are sent,
 * removals are named in removed_resources, and a reconnecting node tells us
 * what it has (initial_resource_versions) so it receives only what differs.
 * https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#incremental-xds
 */
import type { ResourceKind } from '../envoy/resources';
import type { NodeSnapshot } from './snapshot';
import { StreamBase } from './stream-common';
import { allowsWildcard, PUSH_ORDER, TYPE_URL } from './type-urls';
import { deltaDiscoveryResponse } from './wire';

export interface DeltaDiscoveryRequestMsg {
  node?: { id?: string } | null;
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string } | null;
}

interface DeltaTypeState {
  wildcard: boolean;
  names: Set<string>;
  /** What the node has: name -> version. */
  readonly known: Map<string, string>;
  nonce?: string;
  /** The type version the last response brought the node to. */
  sentVersion?: string;
  started: boolean;
}

export class DeltaStream extends StreamBase {
  protected readonly protocol = 'delta';
  private readonly types = new Map<ResourceKind, DeltaTypeState>();

  onRequest(req: DeltaDiscoveryRequestMsg): void {
    this.safely(() => this.handle(req));
  }

  private handle(req: DeltaDiscoveryRequestMsg): void {
    const node = this.identify(req.node);
    const kind = this.kindOf(node, req.type_url, 'DeltaDiscoveryRequest');
    if (!kind) return;
    let st = this.types.get(kind);
    const nonce = req.response_nonce ?? '';
    if (!st) {
      st = { wildcard: false, names: new Set(), known: new Map(Object.entries(req.initial_resource_versions ?? {})), started: false };
      this.types.set(kind, st);
      this.subscribedKinds.add(kind);
    }
    // Delta ACKs carry no version: the node now has what our last response brought it to.
    if (this.readReply(node, kind, st, nonce, st.sentVersion ?? '', req.error_detail) === 'stale') return;
    const subscribe = req.resource_names_subscribe ?? [];
    const unsubscribe = req.resource_names_unsubscribe ?? [];
    if (!st.started) {
      // First request of a type: an empty subscription on LDS/CDS is the legacy wildcard.
      st.wildcard = allowsWildcard(kind) && (subscribe.length === 0 || subscribe.includes('*'));
      st.started = true;
    } else if (subscribe.includes('*') && allowsWildcard(kind)) st.wildcard = true;
    if (unsubscribe.includes('*')) st.wildcard = false;
    for (const n of subscribe) if (n !== '*') st.names.add(n);
    for (const n of unsubscribe) {
      st.names.delete(n);
      st.known.delete(n); // the node forgets it; no removal notice needed
    }
    const snap = this.deps.cache.get(node);
    if (snap) this.sendDiff(kind, st, snap, new Set(subscribe));
  }

  protected onSnapshot(snap: NodeSnapshot): void {
    for (const kind of PUSH_ORDER) {
      const st = this.types.get(kind);
      if (st) this.sendDiff(kind, st, snap, new Set());
    }
  }

  private sendDiff(kind: ResourceKind, st: DeltaTypeState, snap: NodeSnapshot, justSubscribed: ReadonlySet<string>): void {
    const t = snap.types[kind];
    const wanted = st.wildcard ? new Set([...t.resources.keys(), ...st.names]) : st.names;
    const changed = [];
    const removed: string[] = [];
    for (const name of [...wanted].sort()) {
      const r = kind === 'secrets' && !this.peer.authenticated ? undefined : t.resources.get(name);
      if (r) {
        if (st.known.get(name) !== r.version) changed.push(r);
      } else if (st.known.has(name) || justSubscribed.has(name)) {
        // Absent: tell the node it no longer exists, or (just asked for) does not exist.
        removed.push(name);
      }
    }
    for (const name of st.known.keys()) if (!wanted.has(name) && !removed.includes(name)) removed.push(name);
    if (changed.length === 0 && removed.length === 0) {
      st.sentVersion = t.version;
      return;
    }
    const nonce = this.nextNonce();
    const bytes = deltaDiscoveryResponse(t.version, changed.map((r) => r.deltaFrame), TYPE_URL[kind], nonce, removed.sort(), this.deps.identifier);
    for (const r of changed) st.known.set(r.name, r.version);
    for (const n of removed) st.known.delete(n);
    st.nonce = nonce;
    st.sentVersion = t.version;
    this.deps.status.sent(this.nodeId!, kind, t.version, nonce);
    this.deps.metrics.pushes++;
    this.deps.metrics.pushBytes += bytes.length;
    this.write(bytes);
  }
}
