/**
 * Hand-framed xDS responses. Each resource is encoded once per version (an
 * Any, then the field frame a response embeds), and a response is the
 * concatenation of those cached frames plus a few header fields, so a push to
 * N streams costs N memcpys of shared bytes, not N protobuf encodings.
 * Wire format: https://protobuf.dev/programming-guides/encoding/
 */
const LEN = 2; // wire type "length-delimited"

function varint(n: number): Buffer {
  const bytes: number[] = [];
  let v = n >>> 0;
  if (n > 0xffffffff) throw new Error('bug: varint over 32 bits');
  while (v >= 0x80) {
    bytes.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

function tag(field: number): Buffer {
  return varint((field << 3) | LEN);
}

/** A length-delimited field: tag, length, payload. */
export function lenField(field: number, payload: Uint8Array | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return Buffer.concat([tag(field), varint(body.length), body]);
}

/** google.protobuf.Any { type_url = 1; value = 2; } */
export function encodeAny(typeUrl: string, value: Uint8Array): Buffer {
  return Buffer.concat([lenField(1, typeUrl), lenField(2, value)]);
}

/** DiscoveryResponse.resources (field 2) frame for one Any. */
export function sotwResourceFrame(any: Buffer): Buffer {
  return lenField(2, any);
}

/** DeltaDiscoveryResponse.resources (field 2) frame: Resource { version = 1; resource = 2; name = 3; } */
export function deltaResourceFrame(name: string, version: string, any: Buffer): Buffer {
  return lenField(2, Buffer.concat([lenField(1, version), lenField(2, any), lenField(3, name)]));
}

/** ControlPlane { identifier = 1; } so nodes can tell which control plane answered. */
function controlPlane(field: number, identifier: string): Buffer {
  return lenField(field, lenField(1, identifier));
}

/** envoy.service.discovery.v3.DiscoveryResponse, fields in number order. */
export function discoveryResponse(versionInfo: string, frames: readonly Buffer[], typeUrl: string, nonce: string, identifier: string): Buffer {
  return Buffer.concat([lenField(1, versionInfo), ...frames, lenField(4, typeUrl), lenField(5, nonce), controlPlane(6, identifier)]);
}

/** envoy.service.discovery.v3.DeltaDiscoveryResponse, fields in number order. */
export function deltaDiscoveryResponse(systemVersion: string, frames: readonly Buffer[], typeUrl: string, nonce: string, removed: readonly string[], identifier: string): Buffer {
  return Buffer.concat([
    lenField(1, systemVersion),
    ...frames,
    lenField(4, typeUrl),
    lenField(5, nonce),
    ...removed.map((r) => lenField(6, r)),
    controlPlane(7, identifier),
  ]);
}
