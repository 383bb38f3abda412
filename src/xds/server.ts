/**
 * The ADS gRPC server: envoy.service.discovery.v3.AggregatedDiscoveryService
 * with StreamAggregatedResources (SotW) and DeltaAggregatedResources.
 *
 * Responses are pre-framed bytes (src/xds/wire.ts), so the method definitions
 * use an identity serializer; requests are decoded with the official protos.
 * The main port is mTLS (client certificate required); an optional second,
 * plaintext port exists only for `--insecure` development and for proxyless
 * gRPC clients, whose xDS client (grpc-js-xds) cannot present a certificate
 * to the control plane (it supports only `insecure` and `google_default`
 * channel credentials): it is bound to loopback and never serves secrets.
 */
import * as grpc from '@grpc/grpc-js';
import type * as protobuf from 'protobufjs';
import { discoveryRoot } from '../validate/proto-registry';
import type { SnapshotCache } from './cache';
import type { Logger } from './log';
import type { Metrics } from './metrics';
import { DeltaStream, type DeltaDiscoveryRequestMsg } from './delta';
import { SotwStream, type DiscoveryRequestMsg } from './sotw';
import type { StatusBoard } from './status';
import { StreamBase, type PeerInfo, type StreamDeps } from './stream-common';
import { RESOURCE_KINDS } from '../envoy/resources';

const SERVICE = '/envoy.service.discovery.v3.AggregatedDiscoveryService';
/** DiscoveryRequests are small; anything near this is garbage or an attack. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

export interface TlsMaterial {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface XdsServerOptions {
  readonly host: string;
  readonly port: number;
  /** mTLS material for the main port. Required unless `insecure`. */
  readonly tls?: TlsMaterial;
  /** Serve the main port in plaintext (development only; loudly logged). */
  readonly insecure?: boolean;
  /** Extra plaintext port on 127.0.0.1 for proxyless gRPC clients (no secrets served there). */
  readonly plaintextPort?: number;
  /** More gRPC services on the same ports (the tap's AccessLogService); each checks its own callers. */
  readonly services?: ReadonlyArray<{ readonly definition: grpc.ServiceDefinition; readonly implementation: grpc.UntypedServiceImplementation }>;
}

export interface XdsDeps {
  readonly cache: SnapshotCache;
  readonly status: StatusBoard;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly identifier: string;
  /** The applied mesh's trust domain (read per stream: an apply may change it). */
  readonly trustDomain: () => string | undefined;
  /** See StreamDeps.holdUnknownVersion (replicas on a shared store). */
  readonly holdUnknownVersion?: StreamDeps['holdUnknownVersion'];
}

function decoder<T>(typeName: string): (buf: Buffer) => T {
  let type: protobuf.Type | undefined;
  return (buf) => {
    type ??= discoveryRoot().lookupType(typeName);
    return type.toObject(type.decode(buf), { defaults: false, longs: String, enums: Number, arrays: true, objects: true }) as T;
  };
}

function definition(): grpc.ServiceDefinition {
  const identity = (b: Buffer): Buffer => b;
  return {
    StreamAggregatedResources: {
      path: `${SERVICE}/StreamAggregatedResources`,
      requestStream: true,
      responseStream: true,
      requestSerialize: identity,
      requestDeserialize: decoder<DiscoveryRequestMsg>('envoy.service.discovery.v3.DiscoveryRequest'),
      responseSerialize: identity,
      responseDeserialize: identity,
    },
    DeltaAggregatedResources: {
      path: `${SERVICE}/DeltaAggregatedResources`,
      requestStream: true,
      responseStream: true,
      requestSerialize: identity,
      requestDeserialize: decoder<DeltaDiscoveryRequestMsg>('envoy.service.discovery.v3.DeltaDiscoveryRequest'),
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  } as unknown as grpc.ServiceDefinition;
}

/** The URI SAN of a peer certificate ("URI:spiffe://td/svc/x, DNS:x"). */
export function spiffeIdOfSan(san: string | undefined): string | undefined {
  const m = /(?:^|,\s*)URI:(spiffe:\/\/[^,\s]+)/.exec(san ?? '');
  return m?.[1];
}

export class XdsServer {
  private server?: grpc.Server;
  readonly streams = new Set<StreamBase>();
  readonly boundPorts: { main?: number; plaintext?: number } = {};
  private insecure = false;

  constructor(private readonly deps: XdsDeps) {
    deps.metrics.gauges = ((prev) => () => ({ ...prev(), ...this.streamGauges() }))(deps.metrics.gauges);
  }

  private streamGauges(): { streams: number; streamsByType: Record<string, number> } {
    const byType: Record<string, number> = {};
    for (const k of RESOURCE_KINDS) byType[k] = 0;
    for (const s of this.streams) for (const k of s.subscribedKinds) byType[k]!++;
    return { streams: this.streams.size, streamsByType: byType };
  }

  async start(opts: XdsServerOptions): Promise<void> {
    if (!opts.tls && !opts.insecure) throw new Error('bug: the xDS server needs TLS material unless --insecure');
    const server = new grpc.Server({
      'grpc.max_receive_message_length': MAX_REQUEST_BYTES,
      'grpc.max_send_message_length': -1,
      'grpc.keepalive_permit_without_calls': 1,
    });
    server.addService(definition(), {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequestMsg, Buffer>) => this.serve(call, 'sotw'),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequestMsg, Buffer>) => this.serve(call, 'delta'),
    });
    for (const s of opts.services ?? []) server.addService(s.definition, s.implementation);
    const creds = opts.insecure
      ? grpc.ServerCredentials.createInsecure()
      : grpc.ServerCredentials.createSsl(Buffer.from(opts.tls!.caPem), [{ cert_chain: Buffer.from(opts.tls!.certPem), private_key: Buffer.from(opts.tls!.keyPem) }], true);
    this.insecure = !!opts.insecure;
    this.boundPorts.main = await bind(server, `${opts.host}:${opts.port}`, creds);
    if (opts.insecure) this.deps.log.log('warn', 'INSECURE: the xDS port speaks plaintext and does not authenticate nodes; never use --insecure outside local development', { port: this.boundPorts.main });
    if (opts.plaintextPort !== undefined) {
      this.boundPorts.plaintext = await bind(server, `127.0.0.1:${opts.plaintextPort}`, grpc.ServerCredentials.createInsecure());
      this.deps.log.log('warn', 'plaintext xDS port for proxyless gRPC clients on loopback: nodes are not authenticated there and receive no secrets', { port: this.boundPorts.plaintext });
    }
    this.server = server;
  }

  private serve(call: grpc.ServerDuplexStream<unknown, Buffer>, protocol: 'sotw' | 'delta'): void {
    const auth = call.getAuthContext();
    const cert = auth?.sslPeerCertificate;
    const authenticated = auth?.transportSecurityType === 'ssl' && cert !== undefined && Object.keys(cert).length > 0;
    const peer: PeerInfo = { address: call.getPeer(), authenticated, ...(authenticated ? { spiffeId: spiffeIdOfSan(cert!.subjectaltname) } : {}) };
    const deps: StreamDeps = { ...this.deps, expectedSpiffeId: (node) => `spiffe://${this.deps.trustDomain() ?? '?'}/svc/${node}`, envoyNeedsMtls: !this.insecure };
    const write = (bytes: Buffer): void => void call.write(bytes);
    const closeWith = (code: grpc.status, details: string): void => {
      call.emit('error', { code, details, metadata: new grpc.Metadata() });
    };
    const stream = protocol === 'sotw' ? new SotwStream(deps, peer, write, closeWith) : new DeltaStream(deps, peer, write, closeWith);
    this.streams.add(stream);
    const done = (): void => {
      stream.cleanup();
      this.streams.delete(stream);
    };
    const onRequest = stream instanceof SotwStream ? (r: unknown) => stream.onRequest(r as DiscoveryRequestMsg) : (r: unknown) => (stream as DeltaStream).onRequest(r as DeltaDiscoveryRequestMsg);
    call.on('data', onRequest);
    call.on('end', () => {
      done();
      call.end();
    });
    call.on('error', done);
    call.on('cancelled', done);
    call.on('close', done);
  }

  async stop(graceMs = 1000): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.streams) s.cleanup();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

function bind(server: grpc.Server, addr: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync(addr, creds, (err, port) => (err ? reject(err) : resolve(port))));
}
