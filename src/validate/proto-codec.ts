import { createHash } from 'node:crypto';
import * as protobuf from 'protobufjs';
import { type JsonObject, type JsonPath, formatPath, isObject } from './json-path';
import { actualFieldName, fieldIndex, valueTypeOf, type ValueType } from './proto-fields';
import {
  ANY,
  DURATION,
  FIELD_MASK,
  LIST_VALUE,
  NULL_VALUE,
  STRUCT,
  type ScalarKind,
  TIMESTAMP,
  VALUE,
  WRAPPER_KINDS,
  hasSpecialJson,
  is64Bit,
  parseDuration,
  parseFieldMask,
  parseScalar,
  parseTimestamp,
} from './proto3-json';
import { fullNameOf, lookupMessageType, typeNameOfUrl } from './proto-registry';
import { DECODE_OPTIONS, protoObjectToJson } from './proto-decode';

/**
 * proto3 JSON (as Envoy reads it) -> protobuf bytes, deterministically, so the
 * xDS server can put resources on the wire and version them by a hash of the
 * bytes. protobufjs's fromObject does not speak proto3 JSON (Any with inline
 * fields and "@type", Duration strings, Struct, bare wrapper values), so we
 * convert to its object form first.
 *
 * Determinism: protobufjs writes fields in field-number order (its encoder
 * sorts them) but map entries in insertion order, so we insert map keys
 * sorted; scalars at their default value (without presence) are dropped, as
 * proto3 serializers do, so `port_value: 0` and no port_value give the same
 * bytes. Callers must validate first; invalid input throws (a bug).
 */
export class EncodeError extends Error {
  constructor(path: JsonPath | At, message: string) {
    super(`${formatPath(Array.isArray(path) ? path : pathOf(path as At)) || '<root>'}: ${message}`);
    this.name = 'EncodeError';
  }
}

/**
 * Where the encoder is, as a chain to the root: a path is only needed for an
 * error, and copying one array per field of every message encoded was a good
 * part of an encoding's garbage.
 */
type At = { readonly up: At; readonly key: string | number } | null;
const ROOT: At = null;
const at = (up: At, key: string | number): At => ({ up, key });

function pathOf(a: At): JsonPath {
  const out: Array<string | number> = [];
  for (let x = a; x !== null; x = x.up) out.push(x.key);
  return out.reverse();
}
export function encodeMessage(type: protobuf.Type | string, json: unknown): Uint8Array {
  const t = typeof type === 'string' ? requireType(type, []) : type;
  if (isWellKnown(t)) return encodeConverted(t, toProtoObject(t, json, ROOT));
  if (!isObject(json)) throw new EncodeError([], `expected an object (${t.name})`);
  return writeFields(t, json, protobuf.Writer.create(), ROOT).finish();
}

/** Encodes a resource given as proto3 JSON with "@type" (the inner message, not the Any). */
export function encodeResource(resource: JsonObject): Uint8Array {
  return toAny(resource).value;
}

/** The Any for a resource, as a DiscoveryResponse carries it. */
export function toAny(resource: JsonObject): { type_url: string; value: Uint8Array } {
  const url = resource['@type'];
  if (typeof url !== 'string') throw new EncodeError([], 'resource has no "@type"');
  const t = requireType(url, ['@type']);
  const value = isWellKnown(t) ? encodeConverted(t, toProtoObject(t, resource['value'], ROOT)) : writeFields(t, resource, protobuf.Writer.create(), ROOT, '@type').finish();
  return { type_url: url, value };
}

/** A stable content version for a resource: sha256 over its type URL and deterministic bytes. */
export function resourceHash(resource: JsonObject): string {
  const any = toAny(resource);
  return createHash('sha256').update(any.type_url).update('\0').update(any.value).digest('hex');
}

/** bytes -> proto3 JSON with proto (snake_case) field names, for round trips and debugging. */
export function decodeMessage(type: protobuf.Type | string, bytes: Uint8Array): unknown {
  const t = typeof type === 'string' ? requireType(type, []) : type;
  return protoObjectToJson(t, t.toObject(t.decode(bytes), DECODE_OPTIONS));
}

/** The inverse of encodeResource: proto3 JSON with "@type" first. */
export function decodeResource(typeUrl: string, bytes: Uint8Array): JsonObject {
  const t = requireType(typeUrl, []);
  const json = decodeMessage(t, bytes);
  return hasSpecialJson(fullNameOf(t)) ? { '@type': typeUrl, value: json } : { '@type': typeUrl, ...(json as JsonObject) };
}

/**
 * The converted object is already what fromObject would make of it (numbers
 * for enums, decimal strings for 64-bit integers, Buffers for bytes, defaults
 * without presence dropped), and protobufjs's encode reads plain objects: the
 * fromObject copy of every message was a third of an encoding, for the same bytes.
 */
function encodeConverted(t: protobuf.Type, obj: unknown): Uint8Array {
  return t.encode(obj as { [k: string]: unknown }).finish();
}

function requireType(nameOrUrl: string, path: JsonPath | At): protobuf.Type {
  const t = lookupMessageType(nameOrUrl);
  if (t === undefined) throw new EncodeError(path, `unknown message type ${typeNameOfUrl(nameOrUrl)}`);
  return t;
}

/**
 * A well-known type with a JSON form of its own (wrappers, Any, Duration,
 * Struct...): converted to protobufjs's object form and encoded by it. Every
 * other message is written straight from its JSON (writeFields).
 */
const wellKnown = new WeakMap<protobuf.Type, boolean>();
function isWellKnown(type: protobuf.Type): boolean {
  let w = wellKnown.get(type);
  if (w === undefined) wellKnown.set(type, (w = hasSpecialJson(fullNameOf(type))));
  return w;
}

/** A well-known type's proto3 JSON -> the object form protobufjs's encode reads. */
function toProtoObject(type: protobuf.Type, json: unknown, path: At): unknown {
  const name = fullNameOf(type);
  const kind = WRAPPER_KINDS[name];
  if (kind !== undefined) {
    const v = scalar(kind, json, path);
    return isDefaultScalar(kind, v) ? {} : { value: v };
  }
  switch (name) {
    case ANY:
      return anyObject(json, path);
    case DURATION:
    case TIMESTAMP: {
      const p = name === DURATION ? parseDuration(json) : parseTimestamp(json);
      if (!p.ok) throw new EncodeError(path, p.message);
      // Only non-zero parts: a present zero is still written by protobufjs, and canonical bytes omit it.
      return {
        ...(p.value.seconds !== 0n ? { seconds: p.value.seconds.toString() } : {}),
        ...(p.value.nanos !== 0 ? { nanos: p.value.nanos } : {}),
      };
    }
    case FIELD_MASK: {
      const p = parseFieldMask(json);
      if (!p.ok) throw new EncodeError(path, p.message);
      return { paths: p.value };
    }
    case STRUCT:
      return structObject(json, path);
    case VALUE:
      return valueObject(json, path);
    case LIST_VALUE:
      if (!Array.isArray(json)) throw new EncodeError(path, 'expected a list');
      return { values: json.map((v, i) => valueObject(v, at(path, i))) };
  }
  throw new EncodeError(path, `${name} is not a well-known type (a bug: writeFields encodes it)`);
}

/**
 * Writes a plain message's fields from its proto3 JSON, as protobufjs's
 * generated encoder writes its object form (src/encoder.js): fields by number,
 * map entries in the order given (here sorted by key), packed repeated scalars
 * where the field is packed, a scalar without presence left out at its
 * default, null meaning unset. Without the object form in between: that copy
 * of every message was most of an encoding's time and garbage.
 * `skip`: the "@type" of an Any whose fields sit inline.
 */
function writeFields(type: protobuf.Type, json: JsonObject, w: protobuf.Writer, path: At, skip?: string): protobuf.Writer {
  const index = fieldIndex(type);
  // field -> [raw value (messages, lists, maps) or converted scalar, key]; a key read twice: the last one set wins.
  const set = new Map<protobuf.Field, readonly [unknown, string]>();
  for (const key of Object.keys(json)) {
    if (key === skip) continue;
    const value = json[key];
    const field = index.get(key);
    if (field === undefined) throw new EncodeError(at(path, key), `unknown field in ${type.name}`);
    if (value === null && !acceptsNull(field)) continue; // proto3 JSON: null means unset
    const vt = valueTypeOf(field);
    if (field.map || field.repeated || vt.kind === 'message') {
      set.set(field, [value, key]);
      continue;
    }
    const converted = leaf(vt, value, at(path, key));
    if (hasImplicitPresence(field) && isDefaultValue(vt, converted)) continue;
    set.set(field, [converted, key]);
  }
  const fields = [...set.keys()];
  if (fields.length > 1) fields.sort((a, b) => a.id - b.id);
  for (const field of fields) {
    const [value, key] = set.get(field)!;
    writeField(field, value, w, at(path, key));
  }
  return w;
}

function writeField(field: protobuf.Field, value: unknown, w: protobuf.Writer, path: At): void {
  const vt = valueTypeOf(field);
  const wt = vt.kind === 'enum' ? 'int32' : field.type;
  const delimited = ((field.id << 3) | 2) >>> 0;
  if (field.map) {
    if (!isObject(value)) throw new EncodeError(path, 'expected an object (map)');
    const keyType = (field as unknown as protobuf.MapField).keyType;
    // Sorted: protobufjs writes map entries in key order as given, and the bytes must not depend on it.
    for (const k of Object.keys(value).sort()) {
      w.uint32(delimited).fork().uint32(8 | (protobuf.types.mapKey as Record<string, number>)[keyType]!);
      (w as unknown as Record<string, (v: unknown) => void>)[keyType]!(k);
      if (vt.kind === 'message') writeSub(vt.type, value[k], w, 18, at(path, k));
      else writeScalar(w, 16 | basicWire(wt), wt, leaf(vt, value[k], at(path, k)));
      w.ldelim();
    }
    return;
  }
  if (field.repeated) {
    if (!Array.isArray(value)) throw new EncodeError(path, 'expected a list');
    if (value.length === 0) return;
    if (vt.kind === 'message') {
      for (let i = 0; i < value.length; i++) writeSub(vt.type, value[i], w, delimited, at(path, i));
      return;
    }
    const items = value.map((v, i) => leaf(vt, v, at(path, i)));
    if (field.packed && (protobuf.types.packed as Record<string, number | undefined>)[wt] !== undefined) {
      w.uint32(delimited).fork();
      for (const x of items) (w as unknown as Record<string, (v: unknown) => void>)[wt]!(x);
      w.ldelim();
    } else {
      for (const x of items) writeScalar(w, ((field.id << 3) | basicWire(wt)) >>> 0, wt, x);
    }
    return;
  }
  if (vt.kind === 'message') writeSub(vt.type, value, w, delimited, path);
  else writeScalar(w, ((field.id << 3) | basicWire(wt)) >>> 0, wt, value);
}

/** A message in a field (tag given): a well-known type through protobufjs, any other written directly. */
function writeSub(type: protobuf.Type, value: unknown, w: protobuf.Writer, tag: number, path: At): void {
  if (isWellKnown(type)) {
    type.encode(toProtoObject(type, value, path) as { [k: string]: unknown }, w.uint32(tag).fork()).ldelim();
    return;
  }
  if (!isObject(value)) throw new EncodeError(path, `expected an object (${type.name})`);
  writeFields(type, value, w.uint32(tag).fork(), path).ldelim();
}

function writeScalar(w: protobuf.Writer, tag: number, wt: string, value: unknown): void {
  (w.uint32(tag) as unknown as Record<string, (v: unknown) => void>)[wt]!(value);
}

function basicWire(wt: string): number {
  const wire = (protobuf.types.basic as Record<string, number | undefined>)[wt];
  if (wire === undefined) throw new Error(`no wire type for ${wt}`);
  return wire;
}

/** An enum or scalar value as protobufjs's writer takes it. */
function leaf(vt: ValueType, value: unknown, path: At): unknown {
  if (vt.kind === 'enum') {
    if (value === null) return 0; // NullValue
    if (typeof value === 'number') return value;
    const n = typeof value === 'string' ? vt.type.values[value] : undefined;
    if (n === undefined) throw new EncodeError(path, `unknown ${vt.type.name} value ${JSON.stringify(value)}`);
    return n;
  }
  if (vt.kind === 'message') throw new EncodeError(path, 'a message is not a scalar (a bug)');
  return scalar(vt.scalar, value, path);
}

/** protobufjs takes 64-bit integers as decimal strings (via long.js) and bytes as Buffers. */
function scalar(kind: ScalarKind, value: unknown, path: At): unknown {
  const p = parseScalar(kind, value);
  if (!p.ok) throw new EncodeError(path, p.message);
  return typeof p.value === 'bigint' ? p.value.toString() : p.value;
}

function acceptsNull(field: protobuf.Field): boolean {
  const t = field.resolvedType;
  return t !== null && [VALUE, NULL_VALUE].includes(fullNameOf(t));
}

/** Singular scalars and enums outside a oneof have no presence: proto3 does not serialize their default. */
function hasImplicitPresence(field: protobuf.Field): boolean {
  return field.partOf === null && !field.repeated && !field.map && !(field.resolvedType instanceof protobuf.Type);
}

function isDefaultValue(vt: ValueType, v: unknown): boolean {
  if (vt.kind === 'message') return false;
  if (vt.kind === 'enum') return v === 0;
  return isDefaultScalar(vt.scalar, v);
}

/** Converted form: 64-bit integers are decimal strings, so "0" is their default (and only theirs). */
function isDefaultScalar(kind: ScalarKind, v: unknown): boolean {
  if (kind === 'string') return v === '';
  if (kind === 'bytes') return Buffer.isBuffer(v) && v.length === 0;
  if (kind === 'bool') return v === false;
  if (is64Bit(kind)) return v === '0';
  return Object.is(v, 0); // -0.0 has a non-zero bit pattern and is serialized, as in Go
}

function anyObject(json: unknown, path: At): { type_url: string; value?: Uint8Array } {
  if (!isObject(json)) throw new EncodeError(path, 'expected an object with "@type" (Any)');
  const url = json['@type'];
  if (typeof url !== 'string') throw new EncodeError(path, 'Any has no "@type"');
  const inner = requireType(url, at(path, '@type'));
  const value = isWellKnown(inner)
    ? encodeConverted(inner, toProtoObject(inner, json['value'], at(path, 'value')))
    : writeFields(inner, json, protobuf.Writer.create(), path, '@type').finish();
  // An empty message (e.g. the Router config) packs to no bytes; canonical encoders then omit `value`.
  return value.length === 0 ? { type_url: url } : { type_url: url, value };
}

function structObject(json: unknown, path: At): { fields: JsonObject } {
  if (!isObject(json)) throw new EncodeError(path, 'expected an object (Struct)');
  const fields: JsonObject = {};
  for (const k of Object.keys(json).sort()) fields[k] = valueObject(json[k], at(path, k));
  return { fields };
}

function valueObject(v: unknown, path: At): JsonObject {
  const one = (kind: string, x: unknown): JsonObject => ({ [actualFieldName(requireType(VALUE, path), kind)]: x });
  if (v === null) return one('null_value', 0);
  if (typeof v === 'number') return one('number_value', v);
  if (typeof v === 'string') return one('string_value', v);
  if (typeof v === 'boolean') return one('bool_value', v);
  if (Array.isArray(v)) return one('list_value', { values: v.map((x, i) => valueObject(x, at(path, i))) });
  if (isObject(v)) return one('struct_value', structObject(v, path));
  throw new EncodeError(path, `cannot encode ${typeof v} as google.protobuf.Value`);
}
