import * as YAML from 'yaml';
import type { JsonPath } from './json-path';

/** Where a JSON path sits in the source text (1-based, as editors show). */
export interface SourceRange {
  readonly line: number;
  readonly col: number;
  readonly endLine?: number;
  readonly endCol?: number;
}

export type Locator = (path: JsonPath) => SourceRange | undefined;

export interface ParsedSource {
  readonly value: unknown;
  readonly locate: Locator;
  /** Syntax errors with their position; `value` is undefined when there are any. */
  readonly errors: readonly { readonly message: string; readonly range: SourceRange }[];
}

/**
 * Parses YAML or JSON (JSON is YAML 1.2) keeping positions. For .json files
 * the value comes from JSON.parse (fast on large compiler output) and the
 * YAML AST is only built if a finding needs a line number.
 */
export function parseSource(text: string, fileName: string): ParsedSource {
  if (/\.json$/i.test(fileName)) {
    try {
      const value: unknown = JSON.parse(text);
      return { value, locate: lazyLocator(text), errors: [] };
    } catch {
      // fall through: YAML gives a positioned error message
    }
  }
  const lineCounter = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const locate = locatorFor(doc, lineCounter);
  if (doc.errors.length > 0) {
    const errors = doc.errors.map((e) => ({ message: e.message.split('\n')[0] ?? e.message, range: rangeOf(lineCounter, e.pos) }));
    return { value: undefined, locate, errors };
  }
  return { value: doc.toJS({ maxAliasCount: 1000 }), locate, errors: [] };
}

function lazyLocator(text: string): Locator {
  let inner: Locator | undefined;
  return (path) => {
    if (inner === undefined) {
      const lineCounter = new YAML.LineCounter();
      inner = locatorFor(YAML.parseDocument(text, { lineCounter }), lineCounter);
    }
    return inner(path);
  };
}

function rangeOf(lc: YAML.LineCounter, range: readonly [number, number, ...number[]]): SourceRange {
  const start = lc.linePos(range[0]);
  const end = lc.linePos(range[1]);
  return { line: start.line, col: start.col, endLine: end.line, endCol: end.col };
}

/**
 * Walks the AST along the path as far as it exists. For the last segment of
 * a mapping we point at the key (an unknown field is best shown at its name);
 * for a path that goes beyond the document (a missing required field) the
 * closest existing parent is returned.
 */
function locatorFor(doc: YAML.Document, lc: YAML.LineCounter): Locator {
  return (path) => {
    let node: unknown = doc.contents;
    let best: readonly [number, number, ...number[]] | undefined = rangeOfNode(node);
    for (let i = 0; i < path.length; i++) {
      if (YAML.isAlias(node)) node = node.resolve(doc);
      const seg = path[i] as string | number;
      if (YAML.isMap(node)) {
        const pair = node.items.find((p) => (YAML.isScalar(p.key) ? String(p.key.value) : p.key) === String(seg));
        if (pair === undefined) break;
        const isLast = i === path.length - 1;
        node = isLast ? pair.key : pair.value;
      } else if (YAML.isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
      } else break;
      best = rangeOfNode(node) ?? best;
    }
    return best === undefined ? undefined : rangeOf(lc, best);
  };
}

function rangeOfNode(node: unknown): readonly [number, number, ...number[]] | undefined {
  const r = (node as { range?: [number, number, number] | null } | null | undefined)?.range;
  return r ?? undefined;
}
