/**
 * What the tap's two client-streaming services (the access logs,
 * als-service.ts, and the stats sink, metrics-service.ts) share: the sender
 * is the stream's client certificate, spiffe://<trust domain>/svc/<name>; the
 * identifier in the first message must name that node; otherwise the stream
 * is refused with PERMISSION_DENIED and counted (hms_tap_refused_total).
 * Unauthenticated streams (the plaintext proxyless port) are refused unless
 * the whole server is --insecure.
 */
import * as grpc from '@grpc/grpc-js';
import { spiffeIdOfSan } from '../xds/server';
import type { Sender } from './envoy-entry';
import type { Tap } from './tap';

export interface StreamAuthOptions {
  /** The trust domain of the running PKI (undefined: --insecure, nodes are not authenticated). */
  readonly trustDomain: () => string | undefined;
  readonly insecure: boolean;
}

/** The certificate's node name, or why the stream has none. */
export function certNode(call: grpc.ServerReadableStream<unknown, unknown>, opts: StreamAuthOptions): { node?: string; spiffeId?: string; refusal?: string } {
  const auth = call.getAuthContext();
  const cert = auth?.sslPeerCertificate;
  const authenticated = auth?.transportSecurityType === 'ssl' && cert !== undefined && Object.keys(cert).length > 0;
  if (!authenticated) return opts.insecure ? {} : { refusal: 'no client certificate: access logs and stats are accepted only over mTLS' };
  const id = spiffeIdOfSan(cert!.subjectaltname);
  const td = opts.trustDomain();
  const m = id && td ? new RegExp(`^spiffe://${td.replace(/\./g, '\\.')}/svc/([a-z0-9-]+)$`).exec(id) : null;
  if (!m) return { refusal: `the certificate's identity ${id ?? '(none)'} is not a mesh service of ${td ?? '?'}` };
  return { node: m[1]!, spiffeId: id! };
}

export interface GrpcServiceBinding {
  readonly definition: grpc.ServiceDefinition;
  readonly implementation: grpc.UntypedServiceImplementation;
}

/**
 * A client-streaming method whose response is empty (zero bytes on the wire:
 * StreamAccessLogsResponse and StreamMetricsResponse have no fields), each
 * stream served by serveAuthenticatedStream with the stream kind made for it.
 */
export function authenticatedStreamService<M>(tap: Tap, opts: StreamAuthOptions, method: { name: string; path: string; decode: (b: Buffer) => M }, kindOf: () => StreamKind<M>): GrpcServiceBinding {
  const definition = {
    [method.name]: {
      path: method.path,
      requestStream: true,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: method.decode,
      responseSerialize: () => Buffer.alloc(0),
      responseDeserialize: (b: Buffer) => b,
    },
  } as unknown as grpc.ServiceDefinition;
  const implementation = {
    [method.name]: (call: grpc.ServerReadableStream<M, unknown>, cb: grpc.sendUnaryData<unknown>) => serveAuthenticatedStream(tap, opts, call, cb, kindOf()),
  };
  return { definition, implementation };
}

export interface StreamKind<M> {
  /** "access logs" or "stats": what the refusal messages call the stream's content. */
  readonly what: string;
  /** The node id the message's identifier claims, or undefined when it has no identifier. */
  claimed(m: M): string | undefined;
  /** Each message of an accepted stream, with its sender. */
  onMessage(sender: Sender, m: M): void;
}

export function serveAuthenticatedStream<M>(tap: Tap, opts: StreamAuthOptions, call: grpc.ServerReadableStream<M, unknown>, cb: grpc.sendUnaryData<unknown>, kind: StreamKind<M>): void {
  const who = certNode(call as grpc.ServerReadableStream<unknown, unknown>, opts);
  let sender: Sender | undefined;
  let done = false;
  const refuse = (message: string, node?: string): void => {
    if (done) return;
    done = true;
    tap.refuse(node, message, { peer: call.getPeer(), stream: kind.what });
    cb({ code: grpc.status.PERMISSION_DENIED, details: message });
    call.destroy();
  };
  if (who.refusal) return refuse(who.refusal);
  call.on('data', (m: M) => {
    if (done) return;
    if (!sender) {
      // Envoy sends the identifier in the first message only.
      const claimed = kind.claimed(m);
      if (claimed === undefined) return refuse(`the first message of a stream of ${kind.what} must carry its identifier`, who.node);
      if (who.node !== undefined && claimed !== who.node) return refuse(`node "${claimed}" cannot report ${kind.what} over a stream whose certificate is ${who.spiffeId}`, who.node);
      const node = who.node ?? claimed;
      const td = opts.trustDomain() ?? 'insecure';
      sender = { node, spiffeId: who.spiffeId ?? `spiffe://${td}/svc/${node}`, trustDomain: td };
    }
    kind.onMessage(sender, m);
  });
  const finish = (): void => {
    if (done) return;
    done = true;
    cb(null, {});
  };
  call.on('end', finish);
  call.on('error', () => (done = true));
  call.on('cancelled', () => (done = true));
}
