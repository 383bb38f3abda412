/**
 * Parsing rendered bootstraps back, fast. Every node's bootstrap comes from the
 * same template, and the values that differ between nodes are inserted as
 * JSON string literals (the `json` helper). So the YAML structure is the same
 * for every text that is equal once its double-quoted literals are masked.
 * We parse one "skeleton" per distinct masked text with the real YAML parser,
 * with each literal replaced by an indexed marker, and build each node's value
 * by putting its literals back. Exact: a literal that is not plain JSON, a
 * duplicate key after substitution, or anything unexpected falls back to a
 * full YAML parse. (The full parse was three quarters of a large build.)
 */
import * as YAML from 'yaml';

/** A double-quoted scalar on one line, JSON style. */
const LITERAL = /"(?:[^"\\\n]|\\.)*"/g;
/** Private-use code points: never produced by the json helper or found in a bootstrap. */
const OPEN = '\uE000';
const CLOSE = '\uE001';
const MARKER = /\uE000(\d+)\uE001/g;
const QUOTED_MARKER = /"\uE000(\d+)\uE001"/g;
const WHOLE_MARKER = /^\uE000(\d+)\uE001$/;
/** Full-line comments (often naming the node) do not change the structure. */
const COMMENT_LINE = /^[ \t]*#.*$/gm;
/** Block scalars could hold "#" lines that are content, not comments: such texts are never cached. */
const BLOCK_SCALAR = /(?:^|[:\-\s])[|>][-+0-9]*[ \t]*(?:#.*)?$/m;

class Fallback extends Error {}

export class TemplateYamlParser {
  private readonly skeletons = new Map<string, unknown>();
  fullParses = 0;
  skeletonHits = 0;

  parse(text: string): unknown {
    if (text.includes(OPEN) || text.includes(CLOSE) || BLOCK_SCALAR.test(text)) return this.full(text);
    const literals: string[] = [];
    const masked = text.replace(LITERAL, (lit) => `"${OPEN}${literals.push(lit) - 1}${CLOSE}"`);
    // The mask keeps the literals' count and order in the key, so index k means the same slot.
    const key = masked.replace(COMMENT_LINE, '#').replace(MARKER, (_m, i: string) => `${OPEN}${CLOSE}${i}`);
    let skeleton = this.skeletons.get(key);
    if (skeleton === undefined) {
      try {
        skeleton = YAML.parse(masked, { uniqueKeys: true });
      } catch {
        return this.full(text);
      }
      this.skeletons.set(key, skeleton);
    } else this.skeletonHits++;
    try {
      return instantiate(skeleton, literals);
    } catch (err) {
      if (err instanceof Fallback) return this.full(text);
      throw err;
    }
  }

  private full(text: string): unknown {
    this.fullParses++;
    return YAML.parse(text, { uniqueKeys: true });
  }
}

function substitute(s: string, literals: readonly string[]): string {
  const whole = WHOLE_MARKER.exec(s);
  if (whole) {
    // The whole scalar was a double-quoted literal: its value is the JSON string.
    try {
      const v: unknown = JSON.parse(literals[Number(whole[1])]!);
      if (typeof v === 'string') return v;
    } catch {
      /* a YAML-only escape: let the real parser decide */
    }
    throw new Fallback();
  }
  // A literal inside a longer plain or single-quoted scalar stands for its own characters
  // (the masked text kept its quotes around the marker).
  return s.replace(QUOTED_MARKER, (_m, i: string) => literals[Number(i)]!);
}

function instantiate(node: unknown, literals: readonly string[]): unknown {
  if (typeof node === 'string') return substitute(node, literals);
  if (Array.isArray(node)) return node.map((n) => instantiate(n, literals));
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      const key = substitute(k, literals);
      if (Object.prototype.hasOwnProperty.call(out, key)) throw new Fallback(); // the real parser reports the duplicate
      out[key] = instantiate(v, literals);
    }
    return out;
  }
  return node;
}
