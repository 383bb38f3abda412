import * as protobuf from 'protobufjs';
import { type ScalarKind, jsonNameOf } from './proto3-json';

/** What one (non-map, non-repeated view of a) field holds. */
export type ValueType =
  | { readonly kind: 'scalar'; readonly scalar: ScalarKind }
  | { readonly kind: 'enum'; readonly type: protobuf.Enum }
  | { readonly kind: 'message'; readonly type: protobuf.Type };

const valueTypes = new WeakMap<protobuf.Field, ValueType>();

/** Cached per field: the checker, the encoder and the decoder ask for it on every value. */
export function valueTypeOf(field: protobuf.Field): ValueType {
  let vt = valueTypes.get(field);
  if (vt === undefined) {
    const rt = field.resolve().resolvedType;
    if (rt instanceof protobuf.Type) vt = { kind: 'message', type: rt };
    else if (rt instanceof protobuf.Enum) vt = { kind: 'enum', type: rt };
    else vt = { kind: 'scalar', scalar: field.type as ScalarKind };
    valueTypes.set(field, vt);
  }
  return vt;
}

const indexCache = new WeakMap<protobuf.Type, ReadonlyMap<string, protobuf.Field>>();

/**
 * JSON key -> field. Envoy (protobuf's JSON parser) accepts the proto name
 * (snake_case, what Envoy docs use) and the json_name (lowerCamel by default).
 */
export function fieldIndex(type: protobuf.Type): ReadonlyMap<string, protobuf.Field> {
  let index = indexCache.get(type);
  if (index === undefined) {
    const m = new Map<string, protobuf.Field>();
    for (const f of type.fieldsArray) {
      m.set(f.name, f);
      const explicit = f.options?.['json_name'];
      m.set(typeof explicit === 'string' ? explicit : jsonNameOf(f.name), f);
    }
    index = m;
    indexCache.set(type, index);
  }
  return index;
}

/** "did you mean" for an unknown key: the closest field names by edit distance. */
export function suggestField(type: protobuf.Type, key: string): string | undefined {
  const normalized = key.toLowerCase().replace(/[-_]/g, '');
  const scored = type.fieldsArray
    .map((f) => ({ name: f.name, d: editDistance(normalized, f.name.toLowerCase().replace(/_/g, '')) }))
    .filter((s) => s.d <= Math.max(2, Math.floor(key.length / 4)))
    .sort((a, b) => a.d - b.d || (a.name < b.name ? -1 : 1));
  if (scored.length > 0) return `did you mean "${(scored[0] as { name: string }).name}"?`;
  const names = type.fieldsArray.map((f) => f.name);
  return names.length <= 15 ? `known fields: ${names.join(', ')}` : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_x, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

/**
 * The actual name of a field: protobufjs's built-in well-known types (e.g.
 * google.protobuf.Value: nullValue, numberValue...) are defined in lowerCamel,
 * unlike the Envoy protos we load with keepCase.
 */
export function actualFieldName(type: protobuf.Type, protoName: string): string {
  return type.fields[protoName] !== undefined ? protoName : jsonNameOf(protoName);
}
