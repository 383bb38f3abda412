/**
 * State-of-the-world ADS (StreamAggregatedResources), as the xDS protocol
 * describes it: https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol
 *
 * Per type on the stream we keep the subscription, the nonce and version last
 * sent. A request carrying the last nonce is an ACK (no error_detail) or a
 * NACK (error_detail: the node keeps its previous config, and so do we: the
 * rejected version is not sent again until the snapshot changes). A request
 * carrying an older nonce is stale and ignored ("the management server should
 * not send a DiscoveryResponse for a stale nonce").
 */
import * as grpc from '@grpc/grpc-js';
import type { ResourceKind } from '../envoy/resources';
import type { PreparedResource } from './prepared';
import type { NodeSnapshot } from './snapshot';
import { StreamBase, StreamError } from './stream-common';
import { allowsWildcard, PUSH_ORDER, TYPE_URL } from './type-urls';
import { discoveryResponse } from './wire';

export interface DiscoveryRequestMsg {
  version_info?: string;
  node?: { id?: string } | null;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string } | null;
}

interface TypeState {
  wildcard: boolean;
  names: Set<string>;
  /** What the node has been sent for: every resource (wildcard), or these names. */
  sentWildcard?: boolean;
  sentNames?: ReadonlySet<string>;
  sentVersion?: string;
  nonce?: string;
  /** The node has named resources of this type on this stream: an empty list no longer means wildcard. */
  named?: boolean;
  /** endpoints only: the number of CDS responses sent on this stream when this type was last sent. */
  clustersSentAtSend?: number;
  /** Waiting for this replica to catch up before answering (see StreamDeps.holdUnknownVersion). */
  held?: boolean;
}

export class SotwStream extends StreamBase {
  protected readonly protocol = 'sotw';
  private readonly types = new Map<ResourceKind, TypeState>();
  /** CDS responses sent on this stream (see needsWarmingAnswer). */
  private clustersSent = 0;

  onRequest(req: DiscoveryRequestMsg): void {
    this.safely(() => this.handle(req));
  }

  private handle(req: DiscoveryRequestMsg): void {
    const node = this.identify(req.node);
    const typeUrl = req.type_url ?? '';
    const kind = this.kindOf(node, typeUrl, 'DiscoveryRequest');
    if (!kind) return;
    const st = this.types.get(kind) ?? { wildcard: false, names: new Set<string>() };
    const nonce = req.response_nonce ?? '';
    if (this.readReply(node, kind, st, nonce, req.version_info ?? '', req.error_detail) === 'stale') return;
    // An empty nonce after we answered this type is normally out of order. But
    // a request that changes the subscription may have crossed our response:
    // grpc-js-xds sends one request per new watch without waiting (a 90/10
    // split subscribes two clusters back to back, the second request still
    // carrying the nonce it had, i.e. none). That one is answered as a new
    // request, as go-control-plane does; repeating the same subscription
    // without a nonce is still a protocol error.
    const answeredBefore = st.nonce !== undefined;
    const before = answeredBefore ? subscriptionKey(st) : undefined;
    this.subscribe(kind, st, req.resource_names ?? []);
    if (nonce === '' && answeredBefore && subscriptionKey(st) === before) {
      throw new StreamError(grpc.status.INVALID_ARGUMENT, `request for ${typeUrl} without response_nonce after a response was sent`);
    }
    this.types.set(kind, st);
    this.subscribedKinds.add(kind);

    const snap = this.deps.cache.get(node);
    if (!snap) return;
    const current = snap.types[kind].version;
    if (nonce === '' && !answeredBefore && req.version_info && req.version_info === current) {
      // Reconnect with what we would send anyway: the node already has it, so send nothing.
      st.sentVersion = current;
      st.sentWildcard = st.wildcard;
      st.sentNames = new Set(st.names);
      st.nonce = undefined;
      this.deps.status.acked(node, kind, current);
      return;
    }
    if (nonce === '' && !answeredBefore && req.version_info && this.hold(node, kind, st, req.version_info)) return;
    if (st.held) return;
    if (st.sentVersion !== current || subscriptionGrew(st) || this.needsWarmingAnswer(kind, st)) this.send(kind, st, snap);
    else forgetDropped(st);
  }

  private subscribe(kind: ResourceKind, st: TypeState, names: string[]): void {
    // Legacy wildcard: an empty list on LDS/CDS means "everything"; "*" is the explicit form.
    // Only until the node names resources: after that an empty list unsubscribes from
    // everything (xDS protocol, "How the client specifies what resources to return").
    // grpc-js-xds ends its watches that way; answering with every resource made it
    // ACK on a half-closed stream that then never finished, keeping the process alive.
    if (names.some((n) => n !== '*')) st.named = true;
    st.wildcard = allowsWildcard(kind) && (names.includes('*') || (names.length === 0 && !st.named));
    st.names = new Set(names.filter((n) => n !== '*'));
  }

  /**
   * A reconnecting node announces a version we never built: it may come from
   * a replica ahead of us. Answer only once we have caught up with the store;
   * until then the node keeps what it has. Returns true when held.
   */
  private hold(node: string, kind: ResourceKind, st: TypeState, version: string): boolean {
    const wait = this.deps.holdUnknownVersion?.(kind, version);
    if (!wait) return false;
    st.held = true;
    this.deps.log.log('info', 'node has a version this replica never built: catching up before answering', { node, type: kind, version });
    wait.then(
      () => this.safely(() => {
        st.held = false;
        const snap = this.deps.cache.get(node);
        if (!snap) return;
        const current = snap.types[kind].version;
        if (version === current) {
          // Caught up to exactly what the node has: nothing to send.
          st.sentVersion = current;
          st.sentWildcard = st.wildcard;
          st.sentNames = new Set(st.names);
          this.deps.status.acked(node, kind, current);
        } else if (st.sentVersion !== current) this.send(kind, st, snap);
      }),
      () => undefined,
    );
    return true;
  }

  protected onSnapshot(snap: NodeSnapshot): void {
    for (const kind of PUSH_ORDER) {
      const st = this.types.get(kind);
      if (st && !st.held && st.sentVersion !== snap.types[kind].version) this.send(kind, st, snap);
    }
  }

  /**
   * An updated cluster warms until it gets its ClusterLoadAssignment, even when
   * the endpoints did not change (xDS protocol, "Resource warming"): Envoy asks
   * for EDS again after every CDS update, at the version it already has. Left
   * unanswered, the new cluster stays warming for initial_fetch_timeout (15 s)
   * and then serves with no endpoints. So the first EDS request after a CDS
   * response is answered at any version, as Kuma does over go-control-plane.
   */
  private needsWarmingAnswer(kind: ResourceKind, st: TypeState): boolean {
    return kind === 'endpoints' && st.clustersSentAtSend !== undefined && st.clustersSentAtSend < this.clustersSent;
  }

  private send(kind: ResourceKind, st: TypeState, snap: NodeSnapshot): void {
    const t = snap.types[kind];
    let resources: PreparedResource[];
    if (st.wildcard) resources = [...t.resources.values()];
    else resources = [...st.names].sort().map((n) => t.resources.get(n)).filter((r): r is PreparedResource => r !== undefined);
    if (kind === 'secrets' && !this.peer.authenticated) resources = [];
    const nonce = this.nextNonce();
    const bytes = discoveryResponse(t.version, resources.map((r) => r.sotwFrame), TYPE_URL[kind], nonce, this.deps.identifier);
    st.sentVersion = t.version;
    st.sentWildcard = st.wildcard;
    st.sentNames = new Set(st.names);
    st.nonce = nonce;
    if (kind === 'clusters') this.clustersSent++;
    if (kind === 'endpoints') st.clustersSentAtSend = this.clustersSent;
    this.deps.status.sent(this.nodeId!, kind, t.version, nonce);
    this.deps.metrics.pushes++;
    this.deps.metrics.pushBytes += bytes.length;
    this.write(bytes);
  }
}

/**
 * A request needs an answer at an unchanged version only if it asks for
 * something the node was not sent. One that only drops names needs none (the
 * node already has the rest), and must get none: grpc-js-xds drops its last
 * watches and half-closes the stream in one go, then ACKs any response that
 * still arrives on the closed stream, and that call never finishes (its
 * process cannot exit).
 */
function subscriptionGrew(st: TypeState): boolean {
  if (st.wildcard) return st.sentWildcard !== true;
  if (st.sentWildcard) return false;
  return [...st.names].some((n) => !st.sentNames?.has(n));
}

/** After a request that only dropped names, the node has exactly what it still asks for (a name asked again is sent again). */
function forgetDropped(st: TypeState): void {
  if (st.wildcard) return;
  st.sentNames = new Set([...st.names].filter((n) => st.sentWildcard === true || st.sentNames?.has(n)));
  st.sentWildcard = false;
}

function subscriptionKey(st: TypeState): string {
  return st.wildcard ? '*' : [...st.names].sort().join('\n');
}
