/**
 * Mapping paths inside a parsed YAML document back to file:line:col.
 * Paths are arrays of keys and indexes, as in `['circuit_breakers', 'grant-pay', 'max_failures']`.
 */
import { isMap, isPair, isScalar, isSeq, type Node, type Pair, type YAMLMap } from 'yaml';
import type { SourcePos } from '../diag/diagnostic';
import type { SourceFile } from './source-file';

export type DocPath = ReadonlyArray<string | number>;

function startPos(src: SourceFile, node: Node | null | undefined): SourcePos | undefined {
  if (!node?.range) return undefined;
  const p = src.lineCounter.linePos(node.range[0]);
  const e = src.lineCounter.linePos(node.range[1]);
  return { file: src.file, line: p.line, col: p.col, endLine: e.line, endCol: e.col };
}

/**
 * Key index per mapping, built on first use: policy sections of large meshes
 * hold thousands of keys, and a linear search per lookup made lint quadratic.
 */
const keyIndex = new WeakMap<YAMLMap, Map<string, Pair>>();

function pairOf(map: YAMLMap, key: string): Pair | undefined {
  let index = keyIndex.get(map);
  if (!index) {
    index = new Map();
    for (const it of map.items) {
      // First occurrence wins, as for the value (duplicates are MESH011 anyway).
      if (isPair(it) && isScalar(it.key) && !index.has(String(it.key.value))) index.set(String(it.key.value), it as Pair);
    }
    keyIndex.set(map, index);
  }
  return index.get(key);
}

/** Walk the AST along `path`; returns the deepest node reached and the pair whose key matched last. */
function walk(src: SourceFile, path: DocPath): { node: Node | null | undefined; keyNode?: Node; complete: boolean } {
  let node = src.doc?.contents as Node | null | undefined;
  let keyNode: Node | undefined;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = pairOf(node, String(seg));
      if (!pair) return { node, keyNode, complete: false };
      keyNode = pair.key as Node;
      node = pair.value as Node | null;
      // `key:` with nothing after it: the empty value has no useful position, the key has.
      if (node === null || (isScalar(node) && node.value === null && node.range && node.range[0] === node.range[1])) {
        return { node: keyNode, keyNode, complete: true };
      }
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) return { node, keyNode, complete: false };
      keyNode = undefined;
      node = item;
    } else {
      return { node, keyNode, complete: false };
    }
  }
  return { node, keyNode, complete: true };
}

/** Position of the value at `path`, or of the closest ancestor that exists, or 1:1. */
export function valuePos(src: SourceFile, path: DocPath): SourcePos {
  const { node } = walk(src, path);
  return startPos(src, node) ?? { file: src.file, line: 1, col: 1 };
}

/** Position of the key that introduces `path` (for unknown keys and policy names). */
export function keyPos(src: SourceFile, path: DocPath): SourcePos {
  const { node, keyNode, complete } = walk(src, path);
  if (complete && keyNode) return startPos(src, keyNode)!;
  return startPos(src, node) ?? { file: src.file, line: 1, col: 1 };
}

/** Dotted path for messages: circuit_breakers.grant-pay.max_failures, calls[1]. */
export function formatPath(path: DocPath): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out;
}
