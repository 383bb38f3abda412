/**
 * The floor (pinned to core 0, like our server): a plain grpc-js bidi-stream
 * server on the same ADS method path, with the same server options as
 * src/xds/server.ts, and no xDS logic at all. It learns each stream's node
 * from its first request, then on a trigger writes exactly the bytes our
 * server pushed to that node in the policy phase (captured by the clients),
 * in the same order, and times each message until the client's next message
 * (its ACK). What our push costs beyond this is the cost of our xDS logic.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { MAX_REQUEST_BYTES } from '../src/xds/server';
import { serveRpc, startProfile } from './xds-ipc';
import { ADS_METHOD, cpuSecondsSince, requestNodeId, summarize, waitFor } from './xds-wire';

interface FloorStream {
  readonly call: grpc.ServerDuplexStream<Buffer, Buffer>;
  node?: string;
  /** Send times of the messages not yet answered; a stream's answers come in order. */
  readonly inFlight: number[];
}

let server: grpc.Server | undefined;
const byNode = new Map<string, FloorStream>();
let pushes = new Map<string, Buffer[]>();
let latencies: number[] = [];
let outstanding = 0;
let lastAckAt = 0;
let strays = 0;
let rounds = 0;

function onStream(call: grpc.ServerDuplexStream<Buffer, Buffer>): void {
  const s: FloorStream = { call, inFlight: [] };
  call.on('data', (b: Buffer) => {
    if (s.node === undefined) {
      s.node = requestNodeId(b);
      byNode.set(s.node, s);
      return;
    }
    const sentAt = s.inFlight.shift();
    if (sentAt === undefined) {
      strays++;
      return;
    }
    const now = Date.now();
    latencies.push(now - sentAt);
    lastAckAt = now;
    outstanding--;
  });
  const gone = (): void => {
    if (s.node !== undefined && byNode.get(s.node) === s) byNode.delete(s.node);
  };
  call.on('end', () => {
    gone();
    call.end();
  });
  call.on('error', gone);
  call.on('cancelled', gone);
}

function readCapture(dir: string): Map<string, Buffer[]> {
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'capture.json'), 'utf8')) as Array<{ id: string; sizes: number[] }>;
  const blob = fs.readFileSync(path.join(dir, 'capture.bin'));
  const out = new Map<string, Buffer[]>();
  let pos = 0;
  for (const n of index) {
    out.set(n.id, n.sizes.map((size) => blob.subarray(pos, (pos += size))));
  }
  if (pos !== blob.length) throw new Error(`capture index covers ${pos} of ${blob.length} bytes`);
  return out;
}

serveRpc({
  async start() {
    const identity = (b: Buffer): Buffer => b;
    server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_REQUEST_BYTES, 'grpc.max_send_message_length': -1, 'grpc.keepalive_permit_without_calls': 1 });
    const def = { StreamAggregatedResources: { path: ADS_METHOD, requestStream: true, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } };
    server.addService(def as unknown as grpc.ServiceDefinition, { StreamAggregatedResources: onStream });
    const port = await new Promise<number>((resolve, reject) =>
      server!.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    return { port };
  },

  async waitStreams(a: { count: number; timeoutMs: number }) {
    await waitFor(() => byNode.size >= a.count, a.timeoutMs, 5);
    return { streams: byNode.size };
  },

  /** Writes every node's captured pushes (nodes in sorted order, as our cache flushes them) and waits for every ACK. */
  async push(a: { captureDir: string; timeoutMs: number }) {
    pushes = readCapture(a.captureDir);
    latencies = [];
    strays = 0;
    outstanding = 0;
    for (const s of byNode.values()) s.inFlight.length = 0;
    const missing = [...pushes.keys()].filter((n) => !byNode.has(n));
    if (missing.length > 0) throw new Error(`${missing.length} nodes have no floor stream (first: ${missing[0]})`);
    const prof = startProfile();
    const cpu0 = process.cpuUsage();
    const t0 = Date.now();
    let count = 0;
    let bytes = 0;
    for (const node of [...pushes.keys()].sort()) {
      const s = byNode.get(node)!;
      for (const b of pushes.get(node)!) {
        s.inFlight.push(Date.now());
        outstanding++;
        count++;
        bytes += b.length;
        s.call.write(b);
      }
    }
    const allAcked = await waitFor(() => outstanding === 0, a.timeoutMs, 2);
    prof?.(`floor-push-${++rounds}`);
    return { pushes: count, bytes, latency: summarize(latencies), totalMs: (allAcked ? lastAckAt : Date.now()) - t0, cpuS: cpuSecondsSince(cpu0), unacked: outstanding, strays };
  },

  async stop() {
    for (const s of byNode.values()) s.call.end();
    const srv = server;
    server = undefined;
    if (!srv) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        srv.forceShutdown();
        resolve();
      }, 1000);
      srv.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  },
});
