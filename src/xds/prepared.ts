/**
 * Resources encoded once and shared. A PreparedResource holds the protobuf
 * bytes of one resource and the frames that responses embed; its version is
 * a hash of those bytes, so an unchanged resource keeps its version across
 * applies, restarts and control-plane replicas (Envoy would drain listeners
 * on a version change that changed nothing).
 */
import { createHash, hash } from 'node:crypto';
import type { JsonObject } from '../envoy/proto-json';
import { resourceName, type ResourceKind } from '../envoy/resources';
import { toAny } from '../validate/proto-codec';
import { deltaResourceFrame, fieldSize, writeFieldHeader } from './wire';

export const VERSION_HEX = 16;

export interface PreparedResource {
  readonly name: string;
  readonly kind: ResourceKind;
  readonly typeUrl: string;
  /** First 16 hex digits of sha256(type_url, bytes). */
  readonly version: string;
  /** The encoded google.protobuf.Any. */
  readonly any: Buffer;
  /** DiscoveryResponse.resources frame. */
  readonly sotwFrame: Buffer;
  /** DeltaDiscoveryResponse.resources frame (carries name and version). */
  readonly deltaFrame: Buffer;
}

/**
 * A content key for a resource object: sha256 of its JSON text. Memoized per
 * object, because the validation cache and the encoder both ask for it. Equal
 * keys must mean equal content (the caches hand one object's findings and
 * bytes to the other); equal content need not give equal keys (that is a
 * miss: validated and encoded again, to the same result and version).
 */
const keys = new WeakMap<object, string>();
export function contentKey(json: object): string {
  let k = keys.get(json);
  if (k === undefined) {
    // One-shot: a Hash object per resource was a tenth of the key's cost.
    k = hash('sha256', keyText(json), 'base64');
    keys.set(json, k);
  }
  return k;
}

/**
 * JSON.stringify's text where it is exact, else a tagged one. The native
 * stringify is a tenth of the cost of the canonical stableText (sorted keys,
 * indented), and the compiler builds a resource's keys in the same order each
 * time; two equal resources built in different key orders only miss. It is
 * not exact for NaN, Infinity and undefined array members, which it writes as
 * null: a text holding "null" anywhere is made again with every string value
 * tagged and those written as tags of their own, so no two contents share a
 * text (and a resource the validator must refuse gets a key, not an exception).
 * The tagged text is marked by a leading "t": a JSON object or array never
 * starts with one.
 */
function keyText(json: object): string {
  const text = JSON.stringify(json);
  if (!text.includes('null')) return text;
  const tagged = JSON.stringify(json, function tag(this: unknown, _k: string, v: unknown): unknown {
    if (typeof v === 'string') return `s${v}`;
    if (typeof v === 'number' && !Number.isFinite(v)) return `n${v}`;
    if (v === undefined && Array.isArray(this)) return 'u';
    return v;
  });
  return `t${tagged}`;
}

export function bytesVersion(typeUrl: string, bytes: Uint8Array): string {
  return createHash('sha256').update(typeUrl).update('\0').update(bytes).digest('hex').slice(0, VERSION_HEX);
}

/**
 * The three views of a resource in two allocations: the SotW frame with the Any
 * (and the message) inside it, and the delta frame. Both come from outside
 * Node's 8 KB Buffer pool: they live as long as the resource is served, and a
 * long-lived slice of a pool slab keeps the whole slab, however much of it is
 * garbage (registry churn interleaves short- and long-lived buffers; 100,000
 * registered instances once held 735 MB of mostly dead slabs).
 */
function preparedResource(kind: ResourceKind, name: string, typeUrl: string, valueLen: number, write: (buf: Buffer, at: number) => void): PreparedResource {
  const urlLen = Buffer.byteLength(typeUrl, 'utf8');
  const anyLen = fieldSize(urlLen) + fieldSize(valueLen);
  const sotwFrame = Buffer.allocUnsafeSlow(fieldSize(anyLen));
  const anyStart = writeFieldHeader(sotwFrame, 0, 2, anyLen);
  let at = writeFieldHeader(sotwFrame, anyStart, 1, urlLen);
  at += sotwFrame.write(typeUrl, at, 'utf8');
  at = writeFieldHeader(sotwFrame, at, 2, valueLen);
  write(sotwFrame, at);
  const version = bytesVersion(typeUrl, sotwFrame.subarray(at, at + valueLen));
  const any = sotwFrame.subarray(anyStart);
  const pooled = deltaResourceFrame(name, version, any);
  const deltaFrame = Buffer.allocUnsafeSlow(pooled.length);
  pooled.copy(deltaFrame);
  return { name, kind, typeUrl, version, any, sotwFrame, deltaFrame };
}

/**
 * Encodes each distinct resource once. Many nodes share resources (every
 * caller of grant-pay has the same grant-pay cluster), so the cache is keyed
 * by content; `retain` keeps only what the current generation uses.
 */
export class ResourceEncoder {
  private cache = new Map<string, PreparedResource>();
  private used = new Map<string, PreparedResource>();
  encodings = 0;

  prepare(kind: ResourceKind, json: JsonObject): PreparedResource {
    const key = contentKey(json);
    const hit = this.lookup(key);
    if (hit) {
      this.used.set(key, hit);
      return hit;
    }
    const prepared = this.encode(kind, json);
    this.used.set(key, prepared);
    return prepared;
  }

  /** An encoding this generation (or the last) already made, without keeping it any longer. */
  lookup(key: string): PreparedResource | undefined {
    return this.used.get(key) ?? this.cache.get(key);
  }

  /** Encodes without caching: for resources whose lifetime CurrentEncodings decides. */
  encode(kind: ResourceKind, json: JsonObject): PreparedResource {
    const { type_url, value } = toAny(json);
    return this.fromWriter(kind, resourceName(json), type_url, value.length, (buf, at) => void buf.set(value, at));
  }

  /** A resource whose message bytes `write` puts straight into its frame (src/xds/live-endpoints.ts). */
  fromWriter(kind: ResourceKind, name: string, typeUrl: string, valueLen: number, write: (buf: Buffer, at: number) => void): PreparedResource {
    this.encodings++;
    return preparedResource(kind, name, typeUrl, valueLen, write);
  }

  /** Encodings held (for tests and the registry bench: it must stay bounded under churn). */
  get size(): number {
    return new Set([...this.cache.keys(), ...this.used.keys()]).size;
  }

  /**
   * Ends a generation: what was not prepared since the last call is forgotten,
   * except encodings in `alsoKeep` (what an incremental apply's kept snapshots
   * still serve, so the nodes it recomputes next share them).
   */
  retain(alsoKeep?: ReadonlySet<PreparedResource>): void {
    if (alsoKeep) {
      for (const [key, p] of this.cache) if (alsoKeep.has(p) && !this.used.has(key)) this.used.set(key, p);
    }
    this.cache = this.used;
    this.used = new Map();
  }
}

/**
 * The resources the registry rebuilds between applies (ClusterLoadAssignments,
 * the server listeners of proxyless instances), one slot each, holding only
 * the current encoding. They must not go through ResourceEncoder.prepare:
 * its generation keeps every encoding until the next apply, so churn (a
 * fresh address registered and removed, over and over) kept the encoding of
 * every intermediate endpoint set, about 34 MB per 1,000 cycles at 500
 * instances. A slot is rebuilt only when its inputs change (compared with
 * ===), so the callers of a service share one build per registry change.
 * Slots are bounded by what is served: one per compiled CLA and one per
 * proxyless node, all dropped at the next apply.
 */
export class CurrentEncodings {
  private slots = new Map<string, { readonly inputs: unknown; readonly prepared: readonly PreparedResource[] }>();

  constructor(private readonly encoder: ResourceEncoder) {}

  get(slot: string, inputs: unknown, build: () => readonly PreparedResource[]): readonly PreparedResource[] {
    const hit = this.slots.get(slot);
    if (hit && hit.inputs === inputs) return hit.prepared;
    const prepared = build();
    this.slots.set(slot, { inputs, prepared });
    return prepared;
  }

  /** For builders: the apply's encoding of this JSON if it made one (back at an applied state), else a fresh one. */
  encode(kind: ResourceKind, json: JsonObject): PreparedResource {
    return this.encoder.lookup(contentKey(json)) ?? this.encoder.encode(kind, json);
  }

  fromWriter(kind: ResourceKind, name: string, typeUrl: string, valueLen: number, write: (buf: Buffer, at: number) => void): PreparedResource {
    return this.encoder.fromWriter(kind, name, typeUrl, valueLen, write);
  }

  /** A new apply: slots are keyed by the old compiled resources. */
  clear(): void {
    this.slots = new Map();
  }

  get size(): number {
    return this.slots.size;
  }
}
