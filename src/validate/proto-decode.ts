import * as protobuf from 'protobufjs';
import { type JsonObject, isObject } from './json-path';
import { actualFieldName, valueTypeOf, type ValueType } from './proto-fields';
import {
  ANY,
  DURATION,
  FIELD_MASK,
  LIST_VALUE,
  STRUCT,
  TIMESTAMP,
  VALUE,
  WRAPPER_KINDS,
  formatDuration,
  formatFieldMask,
  formatTimestamp,
  hasSpecialJson,
} from './proto3-json';
import { fullNameOf, lookupMessageType } from './proto-registry';

/**
 * protobufjs object form (toObject with longs, enums and bytes as strings)
 * -> proto3 JSON with proto field names (snake_case, as Envoy configs are
 * written). The inverse of the converter in proto-codec.ts.
 */
export const DECODE_OPTIONS: protobuf.IConversionOptions = { longs: String, enums: String, bytes: String, defaults: false };

export function protoObjectToJson(type: protobuf.Type, obj: unknown): unknown {
  const name = fullNameOf(type);
  const o = isObject(obj) ? obj : {};
  const kind = WRAPPER_KINDS[name];
  if (kind !== undefined) return jsonNumber(o['value'] ?? defaultOf(kind));
  switch (name) {
    case ANY:
      return anyJson(o);
    case DURATION:
      return formatDuration(BigInt(String(o['seconds'] ?? 0)), Number(o['nanos'] ?? 0));
    case TIMESTAMP:
      return formatTimestamp(BigInt(String(o['seconds'] ?? 0)), Number(o['nanos'] ?? 0));
    case FIELD_MASK:
      return formatFieldMask((o['paths'] as string[] | undefined) ?? []);
    case STRUCT:
      return structJson(o);
    case VALUE:
      return valueJson(o);
    case LIST_VALUE:
      return ((o['values'] as unknown[] | undefined) ?? []).map(valueJson);
  }
  const out: JsonObject = {};
  for (const field of type.fieldsArray) {
    const v = o[field.name];
    if (v === undefined || v === null) continue;
    out[field.name] = fieldJson(field, v);
  }
  return out;
}

function fieldJson(field: protobuf.Field, v: unknown): unknown {
  const vt = valueTypeOf(field);
  if (field.map) {
    const out: JsonObject = {};
    for (const k of Object.keys(v as JsonObject).sort()) out[k] = singleJson(vt, (v as JsonObject)[k]);
    return out;
  }
  if (field.repeated) return (v as unknown[]).map((x) => singleJson(vt, x));
  return singleJson(vt, v);
}

function singleJson(vt: ValueType, v: unknown): unknown {
  if (vt.kind === 'message') return protoObjectToJson(vt.type, v);
  return jsonNumber(v);
}

/** NaN and the infinities have no JSON number form; proto3 JSON spells them as strings. */
function jsonNumber(v: unknown): unknown {
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  return v;
}

function defaultOf(kind: string): unknown {
  if (kind === 'string' || kind === 'bytes') return '';
  if (kind === 'bool') return false;
  return kind.endsWith('64') ? '0' : 0;
}

function anyJson(o: JsonObject): JsonObject {
  const url = String(o['type_url'] ?? '');
  const bytes = Buffer.from(String(o['value'] ?? ''), 'base64');
  const inner = lookupMessageType(url);
  // An Any we cannot read stays opaque rather than failing the whole decode.
  if (inner === undefined) return { '@type': url, value: bytes.toString('base64') };
  const json = protoObjectToJson(inner, inner.toObject(inner.decode(bytes), DECODE_OPTIONS));
  return hasSpecialJson(fullNameOf(inner)) ? { '@type': url, value: json } : { '@type': url, ...(json as JsonObject) };
}

function structJson(o: JsonObject): JsonObject {
  const fields = isObject(o['fields']) ? o['fields'] : {};
  const out: JsonObject = {};
  for (const k of Object.keys(fields).sort()) out[k] = valueJson(fields[k]);
  return out;
}

function valueJson(v: unknown): unknown {
  const o = isObject(v) ? v : {};
  const valueType = lookupMessageType(VALUE) as protobuf.Type;
  const get = (kind: string): unknown => o[actualFieldName(valueType, kind)];
  if (get('number_value') !== undefined) return jsonNumber(get('number_value'));
  if (get('string_value') !== undefined) return get('string_value');
  if (get('bool_value') !== undefined) return get('bool_value');
  if (get('struct_value') !== undefined) return structJson(get('struct_value') as JsonObject);
  if (get('list_value') !== undefined) return (((get('list_value') as JsonObject)['values'] as unknown[] | undefined) ?? []).map(valueJson);
  return null; // null_value, or no kind set
}
