/**
 * Field-level diff of two proto3-JSON values.
 *
 * Lists of named objects (virtual hosts, routes, filters, filter chains,
 * weighted clusters) are matched by name, not position: inserting a virtual
 * host must read as one added host, not as every later host changing. Their
 * order is compared separately, because for some (http_filters, routes) the
 * order is behaviour. Lists of scalars (domains, ALPN) change as a whole;
 * other lists are compared position by position.
 */
import { isDeepStrictEqual } from 'node:util';

export type PathSeg = { readonly key: string } | { readonly index: number } | { readonly name: string };
export type ChangeOp = 'added' | 'removed' | 'changed';

export interface JsonChange {
  readonly path: readonly PathSeg[];
  readonly op: ChangeOp;
  /** Absent for `added`. */
  readonly old?: unknown;
  /** Absent for `removed`. */
  readonly new?: unknown;
}

export function diffJson(a: unknown, b: unknown, at: readonly PathSeg[] = []): JsonChange[] {
  if (isDeepStrictEqual(a, b)) return [];
  if (isPlainObject(a) && isPlainObject(b)) return diffObjects(a, b, at);
  if (Array.isArray(a) && Array.isArray(b)) {
    const an = namesOf(a);
    const bn = namesOf(b);
    if (an && bn) return diffNamedLists(a, an, b, bn, at);
    if (a.every(isPlainObject) && b.every(isPlainObject) && a.length + b.length > 0) return diffByIndex(a, b, at);
  }
  return [{ path: at, op: 'changed', old: a, new: b }];
}

function diffObjects(a: Record<string, unknown>, b: Record<string, unknown>, at: readonly PathSeg[]): JsonChange[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.flatMap((key) => {
    const path = [...at, { key }];
    if (!(key in a)) return [{ path, op: 'added' as const, new: b[key] }];
    if (!(key in b)) return [{ path, op: 'removed' as const, old: a[key] }];
    return diffJson(a[key], b[key], path);
  });
}

function diffNamedLists(a: unknown[], an: string[], b: unknown[], bn: string[], at: readonly PathSeg[]): JsonChange[] {
  const out: JsonChange[] = [];
  const common = bn.filter((n) => an.includes(n));
  // Same members, new order: for http_filters and routes the order is what the data plane runs.
  const oldOrder = an.filter((n) => bn.includes(n));
  if (!isDeepStrictEqual(oldOrder, common)) out.push({ path: at, op: 'changed', old: an, new: bn });
  for (const [i, name] of bn.entries()) {
    const j = an.indexOf(name);
    const path = [...at, { name }];
    if (j < 0) out.push({ path, op: 'added', new: b[i] });
    else out.push(...diffJson(a[j], b[i], path));
  }
  for (const [j, name] of an.entries()) {
    if (!bn.includes(name)) out.push({ path: [...at, { name }], op: 'removed', old: a[j] });
  }
  return out;
}

function diffByIndex(a: unknown[], b: unknown[], at: readonly PathSeg[]): JsonChange[] {
  const out: JsonChange[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const path = [...at, { index: i }];
    if (i >= a.length) out.push({ path, op: 'added', new: b[i] });
    else if (i >= b.length) out.push({ path, op: 'removed', old: a[i] });
    else out.push(...diffJson(a[i], b[i], path));
  }
  return out;
}

/** The names of a list whose every element is an object with a unique `name` (or `cluster_name`); else undefined. */
function namesOf(list: unknown[]): string[] | undefined {
  if (list.length === 0) return [];
  const names: string[] = [];
  for (const item of list) {
    if (!isPlainObject(item)) return undefined;
    const name = item['name'] ?? item['cluster_name'];
    if (typeof name !== 'string' || names.includes(name)) return undefined;
    names.push(name);
  }
  return names;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * `virtual_hosts[grant-pay].routes[default].route.timeout`: keys as
 * `.key` (or `["key"]` when not a plain identifier), named list members as
 * `[name]`, other list members as `[0]`.
 */
export function formatPath(path: readonly PathSeg[]): string {
  let out = '';
  for (const seg of path) {
    if ('key' in seg) out += /^[A-Za-z_@][A-Za-z0-9_@]*$/.test(seg.key) ? `${out ? '.' : ''}${seg.key}` : `[${JSON.stringify(seg.key)}]`;
    else if ('index' in seg) out += `[${seg.index}]`;
    else out += `[${seg.name}]`;
  }
  return out || '(whole resource)';
}

export function sameSeg(a: PathSeg, b: PathSeg): boolean {
  if ('key' in a) return 'key' in b && a.key === b.key;
  if ('index' in a) return 'index' in b && a.index === b.index;
  return 'name' in b && a.name === b.name;
}
