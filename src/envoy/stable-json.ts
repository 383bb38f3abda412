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
  return JSON.stringify(canonical(value), null, 2) + '\n';
}

/** A copy with every object's keys in sorted order; undefined members dropped (as JSON.stringify does). */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : canonical(v)));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort(compareKeys)) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = canonical(v);
    }
    return out;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`stableStringify: non-finite number ${value}`);
  return value;
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The same text as `JSON.stringify(canonical(value), null, 2)` with every line
 * after the first indented by `indent`, written in one pass without building
 * the sorted copy: the output tree serializes every resource of every node,
 * and the intermediate copies dominated large builds (time and garbage).
 */
export function stableText(value: unknown, indent = ''): string {
  const parts: string[] = [];
  write(value, indent, parts);
  return parts.join('');
}

function write(value: unknown, indent: string, out: string[]): void {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`stableStringify: non-finite number ${value}`);
    out.push(value === undefined ? 'null' : JSON.stringify(value));
    return;
  }
  const inner = indent + '  ';
  if (Array.isArray(value)) {
    if (value.length === 0) return void out.push('[]');
    out.push('[\n');
    value.forEach((v, i) => {
      out.push(inner);
      write(v === undefined ? null : v, inner, out);
      out.push(i < value.length - 1 ? ',\n' : '\n');
    });
    out.push(indent, ']');
    return;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort(compareKeys);
  if (keys.length === 0) return void out.push('{}');
  out.push('{\n');
  keys.forEach((k, i) => {
    out.push(inner, JSON.stringify(k), ': ');
    write(obj[k], inner, out);
    out.push(i < keys.length - 1 ? ',\n' : '\n');
  });
  out.push(indent, '}');
}
