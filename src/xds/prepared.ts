/**
 * Resources encoded once and shared. A PreparedResource holds the protobuf
 * bytes of one resource and the frames that responses embed; its version is
 * a hash of those bytes, so an unchanged resource keeps its version across
 * applies, restarts and control-plane replicas (Envoy would drain listeners
 * on a version change that changed nothing).
 */
import { createHash } from 'node:crypto';
import type { JsonObject } from '../envoy/proto-json';
import { resourceName, type ResourceKind } from '../envoy/resources';
import { stableText } from '../envoy/stable-json';
import { toAny } from '../validate/proto-codec';
import { deltaResourceFrame, encodeAny, sotwResourceFrame } from './wire';

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
 * A content key for a resource object: sha256 of its canonical JSON. Memoized
 * per object, because the validation cache and the encoder both ask for it.
 */
const keys = new WeakMap<object, string>();
export function contentKey(json: object): string {
  let k = keys.get(json);
  if (k === undefined) {
    k = createHash('sha256').update(stableText(json)).digest('base64');
    keys.set(json, k);
  }
  return k;
}

export function bytesVersion(typeUrl: string, bytes: Uint8Array): string {
  return createHash('sha256').update(typeUrl).update('\0').update(bytes).digest('hex').slice(0, VERSION_HEX);
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
    const hit = this.used.get(key) ?? this.cache.get(key);
    if (hit) {
      this.used.set(key, hit);
      return hit;
    }
    const { type_url, value } = toAny(json);
    this.encodings++;
    const version = bytesVersion(type_url, value);
    const name = resourceName(json);
    const any = encodeAny(type_url, value);
    const prepared: PreparedResource = { name, kind, typeUrl: type_url, version, any, sotwFrame: sotwResourceFrame(any), deltaFrame: deltaResourceFrame(name, version, any) };
    this.used.set(key, prepared);
    return prepared;
  }

  /** Ends a generation: what was not prepared since the last call is forgotten. */
  retain(): void {
    this.cache = this.used;
    this.used = new Map();
  }
}
