/**
 * What the xDS bench's processes share: the few protobuf fields a client that
 * keeps resources as raw bytes needs (a DiscoveryResponse's version_info,
 * type_url and nonce; a DiscoveryRequest to ACK or subscribe), and latency
 * summaries. Hand-framed like src/xds/wire.ts so the client spends its core on
 * the streams, not on protobufjs: the bench measures the server.
 * Wire format: https://protobuf.dev/programming-guides/encoding/
 */
import { TYPE_URL } from '../src/xds/type-urls';
import { lenField } from '../src/xds/wire';

export const ADS_METHOD = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

/** The four types every bench node subscribes to (secrets are not served on an insecure port). */
export const BENCH_TYPES = {
  clusters: TYPE_URL.clusters,
  endpoints: TYPE_URL.endpoints,
  listeners: TYPE_URL.listeners,
  routes: TYPE_URL.routes,
} as const;

/** A node's named subscriptions, computed by the parent from the compiled mesh. */
export interface NodeSubscriptions {
  readonly id: string;
  /** RDS names its listeners reference. */
  readonly routes: readonly string[];
  /** EDS service names of its clusters. */
  readonly endpoints: readonly string[];
}

export interface RequestFields {
  readonly versionInfo?: string;
  readonly nodeId?: string;
  readonly names?: readonly string[];
  readonly typeUrl: string;
  readonly nonce?: string;
}

/** envoy.service.discovery.v3.DiscoveryRequest { version_info = 1; node = 2 { id = 1 }; resource_names = 3; type_url = 4; response_nonce = 5; } */
export function discoveryRequest(r: RequestFields): Buffer {
  const parts: Buffer[] = [];
  if (r.versionInfo) parts.push(lenField(1, r.versionInfo));
  if (r.nodeId) parts.push(lenField(2, lenField(1, r.nodeId)));
  for (const n of r.names ?? []) parts.push(lenField(3, n));
  parts.push(lenField(4, r.typeUrl));
  if (r.nonce) parts.push(lenField(5, r.nonce));
  return Buffer.concat(parts);
}

function readVarint(buf: Buffer, pos: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, pos];
    scale *= 128;
    if (scale > 2 ** 49) throw new Error('varint too long');
  }
}

/** Calls `onField` for each length-delimited field (every field of the messages read here is one). */
function eachLenField(buf: Buffer, onField: (field: number, start: number, end: number) => void): void {
  let pos = 0;
  while (pos < buf.length) {
    const [key, p1] = readVarint(buf, pos);
    if ((key & 7) !== 2) throw new Error(`unexpected wire type ${key & 7} for field ${Math.floor(key / 8)}`);
    const [len, p2] = readVarint(buf, p1);
    if (p2 + len > buf.length) throw new Error('truncated field');
    onField(Math.floor(key / 8), p2, p2 + len);
    pos = p2 + len;
  }
}

export interface ResponseHeader {
  readonly versionInfo: string;
  readonly typeUrl: string;
  readonly nonce: string;
  readonly resources: number;
}

/** DiscoveryResponse { version_info = 1; resources = 2; type_url = 4; nonce = 5; }: the header only, resources skipped. */
export function responseHeader(buf: Buffer): ResponseHeader {
  let versionInfo = '';
  let typeUrl = '';
  let nonce = '';
  let resources = 0;
  eachLenField(buf, (field, start, end) => {
    if (field === 1) versionInfo = buf.toString('utf8', start, end);
    else if (field === 2) resources++;
    else if (field === 4) typeUrl = buf.toString('utf8', start, end);
    else if (field === 5) nonce = buf.toString('utf8', start, end);
  });
  return { versionInfo, typeUrl, nonce, resources };
}

/** DiscoveryRequest.node.id, or '' (the floor server learns its peer from the first request). */
export function requestNodeId(buf: Buffer): string {
  let id = '';
  eachLenField(buf, (field, start, end) => {
    if (field !== 2) return;
    const node = buf.subarray(start, end);
    eachLenField(node, (f, s, e) => {
      if (f === 1) id = node.toString('utf8', s, e);
    });
  });
  return id;
}

export interface LatencySummary {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentiles of millisecond samples. */
export function summarize(samples: readonly number[]): LatencySummary {
  if (samples.length === 0) return { n: 0, p50: NaN, p99: NaN, max: NaN };
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: s[s.length - 1]! };
}

export function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` every `everyMs` until true (returns true) or `timeoutMs` passes (returns false). */
export async function waitFor(cond: () => boolean, timeoutMs: number, everyMs = 5): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(everyMs);
  }
  return true;
}

/** Forces full collections (children run with --expose-gc) so memory samples compare live data. */
export async function settleMemory(): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 3; i++) {
    global.gc?.();
    await sleep(50);
  }
  return process.memoryUsage();
}
