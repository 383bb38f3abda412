/**
 * Registered instances merged into a compiled ClusterLoadAssignment: as JSON
 * (what an apply encodes with the rest of a snapshot) and straight to bytes
 * (what a registry change encodes, thousands of times a second at scale).
 * Both give the very same bytes, hence the same version: a snapshot built by
 * an apply and one refreshed by the registry for the same state agree, and
 * nodes are not pushed a change that changed nothing.
 *
 * Wire format: https://protobuf.dev/programming-guides/encoding/. protobufjs
 * (src/validate/proto-codec.ts) writes fields sorted by number, so a
 * ClusterLoadAssignment is cluster_name (1), endpoints (2), then policy (4)
 * and named_endpoints (5): the registry locality, the last of the repeated
 * field 2, goes between the bytes of fields 1-2 and the bytes of the rest.
 */
import type { JsonObject } from '../envoy/proto-json';
import { toAny } from '../validate/proto-codec';
import type { Instance } from './registry';
import { fieldSize, lenField, varintLength, writeFieldHeader, writeVarint } from './wire';

/** The locality registered instances live in, beside the static one (src/envoy/endpoint.ts). */
export const REGISTRY_LOCALITY = { zone: 'registry' } as const;

/**
 * Registered instances are a locality of their own beside the static one (gRPC
 * needs a locality and a weight, A27). An instance that is also a static
 * endpoint is listed once: grpc-js-xds NACKs a ClusterLoadAssignment naming
 * an address twice, even across localities (endpoint-resource-type.ts).
 */
export function withRegistryLocality(cla: JsonObject, all: readonly Instance[]): JsonObject {
  const existing = (cla['endpoints'] as JsonObject[] | undefined) ?? [];
  const statics = staticAddresses(cla);
  const live = all.filter((i) => !statics.has(`${i.address}:${i.port}`));
  if (live.length === 0) return cla;
  return {
    ...cla,
    endpoints: [
      ...existing,
      {
        locality: { ...REGISTRY_LOCALITY },
        load_balancing_weight: 1,
        lb_endpoints: live.map((i) => ({ endpoint: { address: { socket_address: { address: i.address, port_value: i.port } } } })),
      },
    ],
  };
}

function staticAddresses(cla: JsonObject): Set<string> {
  const existing = (cla['endpoints'] as JsonObject[] | undefined) ?? [];
  return new Set(existing.flatMap((l) => ((l['lb_endpoints'] as JsonObject[] | undefined) ?? []).map((e) => addressKey(e))));
}

function addressKey(lbEndpoint: JsonObject): string {
  const sa = ((lbEndpoint['endpoint'] as JsonObject | undefined)?.['address'] as JsonObject | undefined)?.['socket_address'] as JsonObject | undefined;
  return `${String(sa?.['address'])}:${String(sa?.['port_value'])}`;
}

/** What a compiled CLA contributes to every merge: computed once per compiled object. */
interface Template {
  readonly typeUrl: string;
  readonly statics: ReadonlySet<string>;
  /** cluster_name and the static localities. */
  readonly head: Buffer;
  /** Every field numbered after endpoints (policy, named_endpoints). */
  readonly tail: Buffer;
}

const templates = new WeakMap<JsonObject, Template | null>();

/** A merged CLA as its size and a writer of its bytes (ResourceEncoder.fromWriter lays them out). */
export interface ClaWriter {
  readonly typeUrl: string;
  readonly length: number;
  readonly write: (buf: Buffer, at: number) => void;
}

/**
 * The merged CLA's bytes, written in one pass into the resource's own buffer;
 * undefined when there is nothing to add or this CLA cannot be spliced (the
 * caller then encodes withRegistryLocality's JSON, which is the compiled CLA
 * itself in the first case).
 */
export function encodeWithRegistryLocality(cla: JsonObject, all: readonly Instance[]): ClaWriter | undefined {
  const t = templateOf(cla);
  if (!t) return undefined;
  const live = all.filter((i) => !t.statics.has(`${i.address}:${i.port}`));
  const { head, tail, typeUrl } = t;
  // Nothing to add: the compiled CLA itself, whose encoding the apply already made.
  if (live.length === 0) return undefined;
  const sizes = live.map(lbEndpointSizes);
  // LocalityLbEndpoints { locality = 1; lb_endpoints = 2; load_balancing_weight = 3; }, in that order.
  let localityLen = REGISTRY_LOCALITY_FIELD.length + WEIGHT_ONE_FIELD.length;
  for (const s of sizes) localityLen += fieldSize(s.lbEndpoint);
  const length = head.length + fieldSize(localityLen) + tail.length;
  const write = (buf: Buffer, start: number): void => {
    buf.set(head, start);
    let at = writeFieldHeader(buf, start + head.length, 2, localityLen);
    buf.set(REGISTRY_LOCALITY_FIELD, at);
    at += REGISTRY_LOCALITY_FIELD.length;
    for (let k = 0; k < live.length; k++) at = writeLbEndpoint(buf, at, live[k]!, sizes[k]!);
    buf.set(WEIGHT_ONE_FIELD, at);
    buf.set(tail, at + WEIGHT_ONE_FIELD.length);
  };
  return { typeUrl, length, write };
}

function templateOf(cla: JsonObject): Template | undefined {
  let t = templates.get(cla);
  if (t === undefined) {
    t = makeTemplate(cla);
    templates.set(cla, t);
  }
  return t ?? undefined;
}

function makeTemplate(cla: JsonObject): Template | null {
  const { '@type': typeUrl, cluster_name: name, endpoints, ...rest } = cla;
  if (typeof typeUrl !== 'string') return null;
  const head = Buffer.from(toAny({ '@type': typeUrl, cluster_name: name, ...(endpoints !== undefined ? { endpoints } : {}) } as JsonObject).value);
  const tail = Buffer.from(toAny({ '@type': typeUrl, ...rest } as JsonObject).value);
  // The splice relies on field order; if the encoder ever orders differently, merge as JSON instead.
  if (!Buffer.concat([head, tail]).equals(toAny(cla).value)) return null;
  return { typeUrl, statics: staticAddresses(cla), head, tail };
}

// Locality { zone = 2; } as field 1, and load_balancing_weight (UInt32Value { value = 1; }) as field 3.
const REGISTRY_LOCALITY_FIELD = lenField(1, lenField(2, REGISTRY_LOCALITY.zone));
const WEIGHT_ONE_FIELD = lenField(3, Buffer.from([0x08, 0x01]));

/**
 * LbEndpoint { endpoint = 1 { address = 1 { socket_address = 1 { address = 2; port_value = 3; } } } },
 * the lb_endpoints field (2) of a locality. Sizes inside out: each level is a
 * one-byte tag, a length and the level below.
 */
interface LbEndpointSizes {
  readonly addressLen: number;
  readonly socket: number;
  readonly address: number;
  readonly endpoint: number;
  readonly lbEndpoint: number;
}

function lbEndpointSizes(i: Instance): LbEndpointSizes {
  const addressLen = Buffer.byteLength(i.address, 'utf8');
  const socket = fieldSize(addressLen) + 1 + varintLength(i.port);
  const address = fieldSize(socket);
  const endpoint = fieldSize(address);
  return { addressLen, socket, address, endpoint, lbEndpoint: fieldSize(endpoint) };
}

function writeLbEndpoint(buf: Buffer, at: number, i: Instance, s: LbEndpointSizes): number {
  at = writeFieldHeader(buf, at, 2, s.lbEndpoint);
  at = writeFieldHeader(buf, at, 1, s.endpoint);
  at = writeFieldHeader(buf, at, 1, s.address);
  at = writeFieldHeader(buf, at, 1, s.socket);
  at = writeFieldHeader(buf, at, 2, s.addressLen);
  at += buf.write(i.address, at, 'utf8');
  buf[at++] = (3 << 3) | 0; // port_value, varint
  return writeVarint(buf, at, i.port);
}
