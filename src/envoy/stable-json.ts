/**
 * Deterministic JSON: object keys sorted (by UTF-16 code units), 2-space
 * indent, trailing newline. Arrays keep their order: callers sort the lists
 * whose order carries no meaning and keep the ones whose order does
 * (http_filters, filter chains, routes).
 *
 * Proto3 JSON maps (RBAC policies, typed_extension_protocol_options) are
 * objects too; their key order has no meaning to protobuf, so sorting is safe.
 */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

export function stableStringify(value: unknown): string {
  // Same text as JSON.stringify(canonical(value), null, 2), without building the sorted copy.
  return stableText(value) + '\n';
}

/** A copy with every object's keys in sorted order; undefined members dropped (as JSON.stringify does). */
export function canonical(value: unknown): unknown {
  return sortedCopy(value, false);
}

const INDEX_KEY = Symbol('integer-like key');

/**
 * canonical(), copy-on-write: an object whose keys are already in order (and
 * whose members need no change) is returned as it is, so most of a resource
 * is not copied at all. With `stopAtIndexKey`, INDEX_KEY as soon as an object
 * key starts with a digit.
 */
function sortedCopy(value: unknown, stopAtIndexKey: boolean): unknown {
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const c = v === undefined ? null : sortedCopy(v, stopAtIndexKey);
      if (c === INDEX_KEY) return INDEX_KEY;
      if (out !== undefined) out[i] = c;
      else if (c !== v) {
        out = value.slice(0, i);
        out[i] = c;
      }
    }
    return out ?? value;
  }
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    // The members as they will be written; only filled once something differs from `obj`.
    let members: unknown[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (stopAtIndexKey) {
        const c0 = key.charCodeAt(0);
        if (c0 >= 48 && c0 <= 57) return INDEX_KEY;
      }
      const v = obj[key];
      let c: unknown = v;
      if (v !== null && typeof v === 'object') {
        c = sortedCopy(v, stopAtIndexKey);
        if (c === INDEX_KEY) return INDEX_KEY;
      } else if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`stableStringify: non-finite number ${v}`);
      if (members === undefined && (c !== v || v === undefined || (i > 0 && key < keys[i - 1]!))) {
        members = new Array(keys.length);
        for (let j = 0; j < i; j++) members[j] = obj[keys[j]!];
      }
      if (members !== undefined) members[i] = c;
    }
    if (members === undefined) return obj;
    const order = keys.map((_, i) => i).sort((a, b) => compareKeys(keys[a]!, keys[b]!));
    const out: Record<string, unknown> = {};
    for (const i of order) if (members[i] !== undefined) out[keys[i]!] = members[i];
    return out;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`stableStringify: non-finite number ${value}`);
  return value;
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * `JSON.stringify(canonical(value), null, 2)` with every line after the first
 * indented by `indent`. The sorted copy plus V8's native stringifier is about
 * 1.5x faster than stableText's one pass in JavaScript; both give the same
 * bytes (a test compares them). The extra indentation comes from the
 * stringifier itself, by nesting the value in arrays and cutting them off
 * again: re-indenting the text afterwards (replaceAll) cost more than
 * stringifying it.
 */
export function indentedJson(value: unknown, indent = ''): string {
  const copy = sortedCopy(value, true);
  // JSON.stringify writes integer-like keys ("10", "9") first in numeric order, whatever the
  // insertion order: such objects (none in Envoy resources so far) take the one-pass path.
  if (copy === INDEX_KEY) return stableText(value, indent);
  if (indent === '') return JSON.stringify(copy, null, 2);
  const depth = indent.length >> 1;
  if (indent.length % 2 !== 0 || indent !== ' '.repeat(indent.length)) return JSON.stringify(copy, null, 2).replaceAll('\n', `\n${indent}`);
  let wrapped: unknown = copy;
  for (let d = 0; d < depth; d++) wrapped = [wrapped];
  // [\n  [\n    <value>\n  ]\n]: cut the openers (each "[\n" after its own indent, then the value's) and the closers.
  const text = JSON.stringify(wrapped, null, 2);
  return text.slice(depth * depth + depth + indent.length, text.length - (depth * depth + depth));
}

/**
 * The same text as `JSON.stringify(canonical(value), null, 2)` with every line
 * after the first indented by `indent`, written in one pass without building
 * the sorted copy: the output tree serializes every resource of every node,
 * and the intermediate copies dominated large builds (time and garbage).
 */
export function stableText(value: unknown, indent = ''): string {
  // String concatenation (V8 ropes), not an array of parts joined: measurably faster here.
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`stableStringify: non-finite number ${value}`);
    return value === undefined ? 'null' : JSON.stringify(value);
  }
  const inner = indent + '  ';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    let out = '[\n';
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      out += inner + stableText(v === undefined ? null : v, inner) + (i < value.length - 1 ? ',\n' : '\n');
    }
    return out + indent + ']';
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort(compareKeys);
  if (keys.length === 0) return '{}';
  let out = '{\n';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    out += inner + JSON.stringify(k) + ': ' + stableText(obj[k], inner) + (i < keys.length - 1 ? ',\n' : '\n');
  }
  return out + indent + '}';
}
