/**
 * Mapping paths inside a parsed YAML document back to file:line:col.
 * Paths are arrays of keys and indexes, as in `['circuit_breakers', 'grant-pay', 'max_failures']`.
 * Works on the plain position tree of a SourceFile (no YAML document needed).
 */
import type { SourcePos } from '../diag/diagnostic';
import type { PosNode, SourceFile } from './source-file';

export type DocPath = ReadonlyArray<string | number>;

/** 1-based line and column of an offset: the yaml LineCounter's binary search, on its table. */
export function linePos(lineStarts: readonly number[], offset: number): { line: number; col: number } {
  let low = 0;
  let high = lineStarts.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (lineStarts[mid]! < offset) low = mid + 1;
    else high = mid;
  }
  if (lineStarts[low] === offset) return { line: low + 1, col: 1 };
  if (low === 0) return { line: 0, col: offset };
  return { line: low, col: offset - lineStarts[low - 1]! + 1 };
}

function rangePos(src: SourceFile, s: number, e: number): SourcePos | undefined {
  if (s < 0) return undefined;
  const p = linePos(src.lineStarts, s);
  const q = linePos(src.lineStarts, e);
  return { file: src.file, line: p.line, col: p.col, endLine: q.line, endCol: q.col };
}

/**
 * Key index per mapping, built on first use: policy sections of large meshes
 * hold thousands of keys, and a linear search per lookup made lint quadratic.
 */
const keyIndex = new WeakMap<PosNode, Map<string, number>>();

function pairIndex(map: PosNode, key: string): number | undefined {
  let index = keyIndex.get(map);
  if (!index) {
    index = new Map();
    const keys = map.k!;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      // First occurrence wins, as for the value (duplicates are MESH011 anyway).
      if (k !== null && k !== undefined && !index.has(k)) index.set(k, i);
    }
    keyIndex.set(map, index);
  }
  return index.get(key);
}

interface Reached {
  /** The deepest node reached: [start, end) offsets. */
  readonly s: number;
  readonly e: number;
  /** The range of the key that matched last, if the last step was a mapping key. */
  readonly key?: readonly [number, number];
  readonly complete: boolean;
}

/** Walk the position tree along `path`; returns the deepest node reached and the key that matched last. */
function walk(src: SourceFile, path: DocPath): Reached {
  let node = src.pos;
  if (!node) return { s: -1, e: -1, complete: false };
  let key: readonly [number, number] | undefined;
  for (const seg of path) {
    if (node.k) {
      const at: number | undefined = pairIndex(node, String(seg));
      if (at === undefined) return { s: node.s, e: node.e, ...(key ? { key } : {}), complete: false };
      key = [node.kr![2 * at]!, node.kr![2 * at + 1]!];
      const value: PosNode | null = node.v![at]!;
      // `key:` with nothing after it: the empty value has no useful position, the key has.
      if (value === null) return { s: key[0], e: key[1], key, complete: true };
      node = value;
    } else if (node.i && typeof seg === 'number') {
      const item: PosNode | undefined = node.i[seg];
      if (!item) return { s: node.s, e: node.e, ...(key ? { key } : {}), complete: false };
      key = undefined;
      node = item;
    } else {
      return { s: node.s, e: node.e, ...(key ? { key } : {}), complete: false };
    }
  }
  return { s: node.s, e: node.e, ...(key ? { key } : {}), complete: true };
}

/** Position of the value at `path`, or of the closest ancestor that exists, or 1:1. */
export function valuePos(src: SourceFile, path: DocPath): SourcePos {
  const r = walk(src, path);
  return rangePos(src, r.s, r.e) ?? { file: src.file, line: 1, col: 1 };
}

/** Position of the key that introduces `path` (for unknown keys and policy names). */
export function keyPos(src: SourceFile, path: DocPath): SourcePos {
  const r = walk(src, path);
  if (r.complete && r.key) {
    const p = rangePos(src, r.key[0], r.key[1]);
    if (p) return p;
  }
  return rangePos(src, r.s, r.e) ?? { file: src.file, line: 1, col: 1 };
}

/** Dotted path for messages: circuit_breakers.grant-pay.max_failures, calls[1]. */
export function formatPath(path: DocPath): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out;
}
