/**
 * What SotW and delta streams share: learning and authorizing the node on the
 * first request, closing the stream with a gRPC status on protocol errors
 * (errors become statuses only here, at the edge), and nonces.
 */
import * as grpc from '@grpc/grpc-js';
import type { ResourceKind } from '../envoy/resources';
import type { SnapshotCache } from './cache';
import type { Logger } from './log';
import type { Metrics } from './metrics';
import type { StatusBoard } from './status';
import { kindOfUrl } from './type-urls';

export class StreamError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

/** Who is at the other end of a stream, as its mTLS certificate says (absent on an insecure listener). */
export interface PeerInfo {
  readonly spiffeId?: string;
  readonly address: string;
  /** Secrets are only served over authenticated streams. */
  readonly authenticated: boolean;
}

export interface StreamDeps {
  readonly cache: SnapshotCache;
  readonly status: StatusBoard;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** ControlPlane.identifier in every response. */
  readonly identifier: string;
  /** The SPIFFE ID a node must present to be served as `nodeId`, or undefined when anyone may (insecure). */
  readonly expectedSpiffeId: (nodeId: string) => string;
  /**
   * Envoy sidecars are served only over mTLS. True unless the whole server is
   * --insecure: then an unauthenticated stream came in on the plaintext
   * proxyless port, where only proxyless gRPC nodes may connect (so a local
   * process cannot read a sidecar's config or post NACKs in its name).
   */
  readonly envoyNeedsMtls?: boolean;
  /**
   * Replicas on a shared store: a node reconnecting with a version this
   * replica never built may have it from a replica that is ahead. Returns a
   * promise settled when this replica has caught up with the store (answer
   * then), or undefined to answer now. Never serving a node an older
   * revision than it has is what keeps a node from flapping between replicas.
   */
  readonly holdUnknownVersion?: (kind: ResourceKind, version: string) => Promise<void> | undefined;
}

let streamCounter = 0;

export abstract class StreamBase {
  readonly streamId = ++streamCounter;
  protected nodeId?: string;
  private nonceCounter = 0;
  private unwatch?: () => void;
  protected closed = false;
  readonly subscribedKinds = new Set<ResourceKind>();

  constructor(
    protected readonly deps: StreamDeps,
    protected readonly peer: PeerInfo,
    protected readonly write: (bytes: Buffer) => void,
    private readonly closeWith: (code: grpc.status, details: string) => void,
  ) {}

  /** The resource kind a request is about; undefined for types we do not serve (runtime, LRS...: not errors). */
  protected kindOf(node: string, typeUrl: string | undefined, message: string): ResourceKind | undefined {
    if (!typeUrl) throw new StreamError(grpc.status.INVALID_ARGUMENT, `${message}.type_url is required on an aggregated stream`);
    const kind = kindOfUrl(typeUrl);
    if (!kind) this.deps.log.log('debug', 'ignoring request for an unserved type', { node, type_url: typeUrl });
    return kind;
  }

  /**
   * What a request's nonce says about our last response of its type: 'fresh'
   * (no nonce), 'stale' (an older nonce: the request is ignored, as the xDS
   * protocol says), or 'reply' (the last nonce: an ACK, or a NACK when
   * error_detail is set, recorded either way; a NACKed version is not resent).
   */
  protected readReply(
    node: string,
    kind: ResourceKind,
    sent: { readonly nonce?: string; readonly sentVersion?: string },
    nonce: string,
    ackedVersion: string,
    errorDetail: { code?: number; message?: string } | null | undefined,
  ): 'fresh' | 'stale' | 'reply' {
    if (nonce === '') return 'fresh';
    if (nonce !== sent.nonce) {
      this.deps.metrics.staleNonces++;
      return 'stale';
    }
    if (errorDetail && (errorDetail.code ?? 0) !== 0) {
      this.deps.metrics.nacks++;
      this.deps.status.nacked(node, kind, sent.sentVersion ?? '', errorDetail.message ?? '');
      this.deps.log.log('warn', 'NACK', { node, type: kind, version: sent.sentVersion, message: errorDetail.message });
    } else {
      this.deps.metrics.acks++;
      this.deps.status.acked(node, kind, ackedVersion, nonce);
    }
    return 'reply';
  }

  protected nextNonce(): string {
    return `${this.streamId}-${++this.nonceCounter}`;
  }

  /** First request names the node; later ones may repeat it but never change it. */
  protected identify(node: { id?: string } | null | undefined): string {
    const id = node?.id ?? '';
    if (this.nodeId !== undefined) {
      if (id !== '' && id !== this.nodeId) throw new StreamError(grpc.status.INVALID_ARGUMENT, `node id changed on the stream from "${this.nodeId}" to "${id}"`);
      return this.nodeId;
    }
    if (id === '') throw new StreamError(grpc.status.INVALID_ARGUMENT, 'the first DiscoveryRequest on a stream must carry node.id');
    if (this.peer.authenticated) {
      const expected = this.deps.expectedSpiffeId(id);
      if (this.peer.spiffeId !== expected) {
        throw new StreamError(grpc.status.PERMISSION_DENIED, `node "${id}" must present the identity ${expected}; this stream presented ${this.peer.spiffeId ?? 'no identity'}`);
      }
    }
    const snapshot = this.deps.cache.get(id);
    if (!snapshot) {
      throw new StreamError(grpc.status.NOT_FOUND, `node "${id}" is not in the mesh (known nodes: ${this.deps.cache.nodes().join(', ') || 'none'}); declare it in services/ and apply`);
    }
    if (!this.peer.authenticated && this.deps.envoyNeedsMtls && snapshot.kind === 'envoy') {
      throw new StreamError(grpc.status.PERMISSION_DENIED, `node "${id}" is an Envoy sidecar: it is served over mTLS only, never on the plaintext proxyless port`);
    }
    this.nodeId = id;
    this.deps.status.connected(id);
    this.unwatch = this.deps.cache.watch(id, { onSnapshot: (s) => this.safely(() => this.onSnapshot(s)) });
    this.deps.log.log('info', 'node connected', { node: id, stream: this.streamId, peer: this.peer.address, identity: this.peer.spiffeId ?? null, protocol: this.protocol });
    return id;
  }

  protected abstract readonly protocol: 'sotw' | 'delta';
  protected abstract onSnapshot(s: import('./snapshot').NodeSnapshot): void;

  /** Runs stream work; a StreamError closes this stream only, with its status. */
  safely(fn: () => void): void {
    if (this.closed) return;
    try {
      fn();
    } catch (err) {
      if (err instanceof StreamError) return this.fail(err.code, err.message);
      this.deps.log.log('error', 'bug in stream handling', { stream: this.streamId, error: (err as Error).stack ?? String(err) });
      this.fail(grpc.status.INTERNAL, 'internal error');
    }
  }

  fail(code: grpc.status, details: string): void {
    if (this.closed) return;
    this.deps.metrics.streamErrors++;
    this.deps.log.log('warn', 'closing stream', { stream: this.streamId, node: this.nodeId ?? null, code: grpc.status[code], details });
    this.closeWith(code, details);
    this.cleanup();
  }

  cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.unwatch?.();
    if (this.nodeId !== undefined) {
      this.deps.status.disconnected(this.nodeId);
      this.deps.log.log('info', 'node disconnected', { node: this.nodeId, stream: this.streamId });
    }
  }
}
