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
