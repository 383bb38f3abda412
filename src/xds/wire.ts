/**
 * Hand-framed xDS responses. Each resource is encoded once per version (an
 * Any, then the field frame a response embeds), and a response is the
 * concatenation of those cached frames plus a few header fields, so a push to
 * N streams costs N memcpys of shared bytes, not N protobuf encodings.
 * Wire format: https://protobuf.dev/programming-guides/encoding/
 */
const LEN = 2; // wire type "length-delimited"

export function varintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v >>>= 7;
    n++;
  }
  return n;
}

export function writeVarint(buf: Buffer, at: number, v: number): number {
  while (v >= 0x80) {
    buf[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[at++] = v;
  return at;
}

/** A length-delimited field: tag, length, payload, in one allocation. Fields here are < 2^28. */
export function lenField(field: number, payload: Uint8Array | string): Buffer {
  const len = typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.byteLength;
  if (len > 0xfffffff) throw new Error('bug: field over 256 MiB');
  const tag = (field << 3) | LEN;
  const buf = Buffer.allocUnsafe(varintLength(tag) + varintLength(len) + len);
  let at = writeVarint(buf, 0, tag);
  at = writeVarint(buf, at, len);
  if (typeof payload === 'string') buf.write(payload, at, 'utf8');
  else buf.set(payload, at);
  return buf;
}

/** Bytes of a length-delimited field with a one-byte tag (field numbers 1 to 15) around `len` bytes. */
export function fieldSize(len: number): number {
  return 1 + varintLength(len) + len;
}

/** Writes a one-byte-tag length-delimited field's tag and length; returns where its payload starts. */
export function writeFieldHeader(buf: Buffer, at: number, field: number, len: number): number {
  buf[at++] = (field << 3) | LEN;
  return writeVarint(buf, at, len);
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

/**
 * Frames that are the same in every response of a type (type_url, the control
 * plane identifier): built once. A push to thousands of streams otherwise spent
 * more time allocating these little buffers than copying the resources.
 */
const constantFrames = new Map<string, Buffer>();
function constant(field: number, value: string, build: () => Buffer): Buffer {
  const key = `${field}\0${value}`;
  let b = constantFrames.get(key);
  if (!b) constantFrames.set(key, (b = build()));
  return b;
}

/** envoy.service.discovery.v3.DiscoveryResponse, fields in number order, in one allocation. */
export function discoveryResponse(versionInfo: string, frames: readonly Buffer[], typeUrl: string, nonce: string, identifier: string): Buffer {
  const parts = [lenField(1, versionInfo), ...frames, constant(4, typeUrl, () => lenField(4, typeUrl)), lenField(5, nonce), constant(6, identifier, () => controlPlane(6, identifier))];
  let total = 0;
  for (const p of parts) total += p.length;
  return Buffer.concat(parts, total);
}

/** envoy.service.discovery.v3.DeltaDiscoveryResponse, fields in number order. */
export function deltaDiscoveryResponse(systemVersion: string, frames: readonly Buffer[], typeUrl: string, nonce: string, removed: readonly string[], identifier: string): Buffer {
  return Buffer.concat([
    lenField(1, systemVersion),
    ...frames,
    constant(4, typeUrl, () => lenField(4, typeUrl)),
    lenField(5, nonce),
    ...removed.map((r) => lenField(6, r)),
    constant(7, identifier, () => controlPlane(7, identifier)),
  ]);
}
