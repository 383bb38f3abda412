/**
 * A small ADS test client built on the official protos (the same ones Envoy
 * and grpc-js-xds compile in), for protocol behaviour that the real
 * grpc-js-xds client does not exercise: delta xDS, stale nonces, removal,
 * reconnects. It keeps responses as raw bytes and decodes them only on demand.
 */
import * as grpc from '@grpc/grpc-js';
import type * as protobuf from 'protobufjs';
import { envoyRoot } from '../../src/validate/proto-registry';
import { decodeResource } from '../../src/validate/proto-codec';

const SERVICE = '/envoy.service.discovery.v3.AggregatedDiscoveryService';

export const TYPE = {
  listeners: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  routes: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  clusters: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoints: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  secrets: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;

let types: { req: protobuf.Type; res: protobuf.Type; dreq: protobuf.Type; dres: protobuf.Type } | undefined;
function t(): NonNullable<typeof types> {
  types ??= {
    req: envoyRoot().lookupType('envoy.service.discovery.v3.DiscoveryRequest'),
    res: envoyRoot().lookupType('envoy.service.discovery.v3.DiscoveryResponse'),
    dreq: envoyRoot().lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest'),
    dres: envoyRoot().lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse'),
  };
  return types;
}

export interface Response {
  readonly raw: Buffer;
  readonly version_info: string;
  readonly type_url: string;
  readonly nonce: string;
  /** Resource names, in order. */
  readonly names: string[];
  /** Decoded resources (proto3 JSON). */
  readonly resources: Array<Record<string, unknown>>;
}

export interface DeltaResponse {
  readonly raw: Buffer;
  readonly system_version_info: string;
  readonly type_url: string;
  readonly nonce: string;
  readonly resources: Array<{ name: string; version: string; resource: Record<string, unknown> }>;
  readonly removed_resources: string[];
}

export function decodeSotw(raw: Buffer): Response {
  const m = t().res.toObject(t().res.decode(raw), { defaults: true, longs: String, bytes: Buffer }) as {
    version_info: string; type_url: string; nonce: string; resources: Array<{ type_url: string; value: Buffer }>;
  };
  const resources = m.resources.map((a) => decodeResource(a.type_url, a.value) as Record<string, unknown>);
  const names = resources.map((r) => String(r.name ?? r.cluster_name));
  return { raw, version_info: m.version_info, type_url: m.type_url, nonce: m.nonce, names, resources };
}

export function decodeDelta(raw: Buffer): DeltaResponse {
  const m = t().dres.toObject(t().dres.decode(raw), { defaults: true, longs: String, bytes: Buffer }) as {
    system_version_info: string; type_url: string; nonce: string; removed_resources: string[];
    resources: Array<{ name: string; version: string; resource: { type_url: string; value: Buffer } }>;
  };
  return {
    raw,
    system_version_info: m.system_version_info,
    type_url: m.type_url,
    nonce: m.nonce,
    removed_resources: m.removed_resources,
    resources: m.resources.map((r) => ({ name: r.name, version: r.version, resource: decodeResource(r.resource.type_url, r.resource.value) as Record<string, unknown> })),
  };
}

/** One bidirectional stream; responses queue up as raw bytes until awaited. */
export class Session<Req> {
  private readonly queue: Buffer[] = [];
  private waiters: Array<(b: Buffer) => void> = [];
  readonly closed: Promise<grpc.StatusObject>;

  constructor(private readonly call: grpc.ClientDuplexStream<Req, Buffer>) {
    call.on('data', (b: Buffer) => {
      const w = this.waiters.shift();
      if (w) w(b);
      else this.queue.push(b);
    });
    this.closed = new Promise((resolve) => {
      call.on('status', (s: grpc.StatusObject) => resolve(s));
      call.on('error', () => undefined); // the status event carries it
    });
  }

  send(req: Req): void {
    this.call.write(req);
  }

  /** The next response, or rejects after `ms` (the server owes us nothing in that case). */
  next(ms = 5000): Promise<Buffer> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error(`no response within ${ms} ms`));
      }, ms);
      const done = (b: Buffer): void => {
        clearTimeout(timer);
        resolve(b);
      };
      this.waiters.push(done);
    });
  }

  /** Asserts nothing arrives for `ms`. Resolves true when quiet. */
  async quiet(ms = 300): Promise<boolean> {
    if (this.queue.length > 0) return false;
    return this.next(ms).then(
      (b) => {
        this.queue.unshift(b);
        return false;
      },
      () => true,
    );
  }

  pending(): number {
    return this.queue.length;
  }

  end(): void {
    this.call.end();
  }

  cancel(): void {
    this.call.cancel();
  }
}

export interface SotwRequest {
  version_info?: string;
  node?: { id: string; cluster?: string };
  resource_names?: string[];
  type_url: string;
  response_nonce?: string;
  error_detail?: { code: number; message: string };
}

export interface DeltaRequest {
  node?: { id: string; cluster?: string };
  type_url: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: { code: number; message: string };
}

export class AdsTestClient {
  private readonly client: grpc.Client;

  constructor(address: string, creds: grpc.ChannelCredentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}) {
    this.client = new grpc.Client(address, creds, { 'grpc.max_receive_message_length': -1, ...options });
  }

  sotw(): Session<SotwRequest> {
    const call = this.client.makeBidiStreamRequest<SotwRequest, Buffer>(
      `${SERVICE}/StreamAggregatedResources`,
      (r) => Buffer.from(t().req.encode(t().req.fromObject(r)).finish()),
      (b) => b,
    );
    return new Session(call);
  }

  delta(): Session<DeltaRequest> {
    const call = this.client.makeBidiStreamRequest<DeltaRequest, Buffer>(
      `${SERVICE}/DeltaAggregatedResources`,
      (r) => Buffer.from(t().dreq.encode(t().dreq.fromObject(r)).finish()),
      (b) => b,
    );
    return new Session(call);
  }

  /** Sends raw bytes as a SotW request (malformed-input tests). */
  rawSotw(): grpc.ClientDuplexStream<Buffer, Buffer> {
    return this.client.makeBidiStreamRequest<Buffer, Buffer>(`${SERVICE}/StreamAggregatedResources`, (b) => b, (b) => b);
  }

  close(): void {
    this.client.close();
  }
}
