/**
 * The xDS bench's clients process (pinned to core 1): one ADS SotW stream per
 * node over a few grpc-js channels. A stream behaves like a lean Envoy or
 * proxyless gRPC client that keeps resources as raw bytes: it subscribes CDS
 * and LDS (wildcard), then EDS once clusters arrive and RDS once listeners
 * arrive (by the names the parent computed from the compiled mesh), and ACKs
 * every response from its header alone. The same code ACKs the floor
 * server's pushes, so both servers face the very same client.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { serveRpc, startProfile } from './xds-ipc';
import { ADS_METHOD, BENCH_TYPES, discoveryRequest, responseHeader, type NodeSubscriptions } from './xds-wire';

/** gRPC's default receive limit, set explicitly: a larger response must fail here as it would in grpc-js-xds. */
const MAX_RECEIVE_BYTES = 4 * 1024 * 1024;

/** Our server, the floor (pushes only) and the peer (go-control-plane, a full xDS server like ours). */
type Mode = 'xds' | 'floor' | 'peer';

interface Totals {
  received: number;
  receivedBytes: number;
  acks: number;
  maxBytes: number;
  maxNode: string;
  maxType: string;
  errors: string[];
}

const newTotals = (): Totals => ({ received: 0, receivedBytes: 0, acks: 0, maxBytes: 0, maxNode: '', maxType: '', errors: [] });
/** Streams to our server, the floor and the peer are separate groups (ours and the floor's are open while the rounds alternate). */
const groups: Record<Mode, { clients: grpc.Client[]; streams: BenchStream[]; totals: Totals }> = {
  xds: { clients: [], streams: [], totals: newTotals() },
  floor: { clients: [], streams: [], totals: newTotals() },
  peer: { clients: [], streams: [], totals: newTotals() },
};
let capturing = false;
let stopProfile: ((name: string) => void) | undefined;

class BenchStream {
  private readonly call: grpc.ClientDuplexStream<Buffer, Buffer>;
  /** Last response per type, kept as bytes: what a node holds. */
  private readonly held = new Map<string, Buffer>();
  private edsRequested = false;
  private rdsRequested = false;
  private cancelled = false;
  readonly captured: Buffer[] = [];
  private readonly totals: Totals;

  constructor(
    client: grpc.Client,
    readonly subs: NodeSubscriptions,
    private readonly mode: Mode,
  ) {
    this.totals = groups[mode].totals;
    this.call = client.makeBidiStreamRequest<Buffer, Buffer>(ADS_METHOD, (b) => b, (b) => b);
    this.call.on('data', (b: Buffer) => this.onResponse(b));
    this.call.on('error', (e: grpc.ServiceError) => {
      if (!this.cancelled && this.totals.errors.length < 20) this.totals.errors.push(`${subs.id}: ${grpc.status[e.code] ?? e.code} ${e.details}`);
    });
    // The first request names the node (the floor learns its peer from it, then only pushes).
    this.call.write(discoveryRequest({ nodeId: subs.id, typeUrl: BENCH_TYPES.clusters }));
    if (mode !== 'floor') this.call.write(discoveryRequest({ typeUrl: BENCH_TYPES.listeners }));
  }

  private namesOf(typeUrl: string): readonly string[] {
    if (typeUrl === BENCH_TYPES.routes) return this.subs.routes;
    if (typeUrl === BENCH_TYPES.endpoints) return this.subs.endpoints;
    return []; // CDS and LDS: wildcard
  }

  private onResponse(b: Buffer): void {
    const t = this.totals;
    t.received++;
    t.receivedBytes += b.length;
    const h = responseHeader(b);
    if (b.length > t.maxBytes) {
      t.maxBytes = b.length;
      t.maxNode = this.subs.id;
      t.maxType = h.typeUrl;
    }
    this.held.set(h.typeUrl, b);
    if (capturing && this.mode === 'xds') this.captured.push(b);
    // SotW: every request repeats the whole subscription, ACKs included.
    this.call.write(discoveryRequest({ versionInfo: h.versionInfo, names: this.namesOf(h.typeUrl), typeUrl: h.typeUrl, nonce: h.nonce }));
    t.acks++;
    if (this.mode === 'floor') return;
    // Clusters before their endpoints, listeners before their routes, as Envoy and grpc-js-xds do.
    if (h.typeUrl === BENCH_TYPES.clusters && !this.edsRequested) {
      this.edsRequested = true;
      this.call.write(discoveryRequest({ names: this.subs.endpoints, typeUrl: BENCH_TYPES.endpoints }));
    } else if (h.typeUrl === BENCH_TYPES.listeners && !this.rdsRequested) {
      this.rdsRequested = true;
      this.call.write(discoveryRequest({ names: this.subs.routes, typeUrl: BENCH_TYPES.routes }));
    }
  }

  cancel(): void {
    this.cancelled = true;
    this.call.cancel();
  }
}

function close(mode: Mode): void {
  const g = groups[mode];
  for (const s of g.streams) s.cancel();
  for (const c of g.clients) c.close();
  g.streams = [];
  g.clients = [];
}

serveRpc({
  /** Opens one stream per node, all at once, spread over `channels` connections. */
  connect(a: { port: number; nodesFile: string; channels: number; mode: Mode }) {
    const nodes = JSON.parse(fs.readFileSync(a.nodesFile, 'utf8')) as NodeSubscriptions[];
    const g = groups[a.mode];
    const startedAt = Date.now();
    g.clients = Array.from({ length: a.channels }, () => new grpc.Client(`127.0.0.1:${a.port}`, grpc.credentials.createInsecure(), {
      // Without a local pool, grpc-js would share one connection among clients with the same target.
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
    }));
    g.streams = nodes.map((n, i) => new BenchStream(g.clients[i % a.channels]!, n, a.mode));
    return { startedAt, openedMs: Date.now() - startedAt, streams: g.streams.length };
  },

  /** Keeps what our server pushes from now on, per node, for the floor to replay. */
  capture(a: { on: boolean }) {
    capturing = a.on;
    if (a.on) for (const s of groups.xds.streams) s.captured.length = 0;
  },

  /** Writes what each node received while capturing: an index (node -> sizes) and the bytes, in order. */
  dumpCapture(a: { dir: string }) {
    fs.mkdirSync(a.dir, { recursive: true });
    const index: Array<{ id: string; sizes: number[] }> = [];
    const fd = fs.openSync(path.join(a.dir, 'capture.bin'), 'w');
    let messages = 0;
    let bytes = 0;
    try {
      for (const s of groups.xds.streams) {
        index.push({ id: s.subs.id, sizes: s.captured.map((b) => b.length) });
        for (const b of s.captured) {
          fs.writeSync(fd, b);
          messages++;
          bytes += b.length;
        }
        s.captured.length = 0;
      }
    } finally {
      fs.closeSync(fd);
    }
    fs.writeFileSync(path.join(a.dir, 'capture.json'), JSON.stringify(index));
    return { messages, bytes };
  },

  /** HMS_BENCH_PROFILE only: profiles the clients between two calls. */
  profile(a: { name?: string }) {
    if (a.name === undefined) stopProfile = startProfile();
    else stopProfile?.(a.name);
  },

  stats(a: { mode: Mode }) {
    const g = groups[a.mode];
    return { ...g.totals, streams: g.streams.length };
  },

  close(a: { mode: Mode }) {
    close(a.mode);
  },

  stop() {
    close('xds');
    close('floor');
    close('peer');
  },
});
