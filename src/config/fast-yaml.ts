/**
 * A fast path for the plain YAML that policy files and manifests are made of:
 * block mappings and sequences, one-line scalars, one-line flow sequences,
 * blank lines and comments. It gives exactly what the yaml package would (the
 * value, the position tree, the line-start table) 8 to 16 times faster, and gives
 * up (returns undefined) on anything else, which then goes to the full parser.
 *
 * Why: the yaml package reads about 1 MB/s, so a 5,000-service mesh spent
 * most of its lint in it. Why not a looser reader: the positions and values
 * must be the full parser's to the byte (diagnostics point at them, and
 * whether a file took this path must never show), so everything outside the
 * subset below gives up rather than guess. test/config/fast-yaml.test.ts holds
 * it to the full parser on the corpus, the examples and random mutations.
 *
 * The subset (anything else gives up):
 * - printable ASCII and newlines only (no tabs, CR, BOM or non-ASCII bytes);
 * - a mapping or a sequence at the root; no document markers or directives;
 * - mapping keys: one-line plain scalars that resolve to a string, unique in
 *   their mapping, with `:` right after them;
 * - values: a nested block node, a one-line plain or quoted scalar (double
 *   quotes without escapes), or a one-line flow sequence of such scalars;
 *   never empty (`key:` with nothing under it gives up);
 * - `- key: value` mappings inside sequences, and a sequence under a key at
 *   the key's own indentation;
 * - comments after a value, and whole-line comments at column 0 (indented
 *   comment lines change which node the yaml package counts them into);
 * - no anchors, aliases, tags, block scalars, flow mappings, explicit keys.
 */
import { Document, isScalar } from 'yaml';
import type { PosNode } from './source-file';

export interface FastParsed {
  readonly value: unknown;
  readonly pos: PosNode;
  readonly lineStarts: number[];
}

/** The checkDepth limit of source-file.ts: deeper documents go to the full parser, which reports them. */
const MAX_DEPTH = 64;
/** yaml's strict mode wants the `:` of an implicit key within 1,024 characters. */
const MAX_KEY = 1000;

class GiveUp {}
const GIVE_UP = new GiveUp();

type Tag = {
  default?: boolean | 'key';
  test?: RegExp;
  resolve: (value: string, onError: (msg: string) => void, options: object) => unknown;
};

/** The core schema's implicit scalar tags, in the order the composer tries them. */
const CORE = new Document();
const CORE_TAGS: readonly Tag[] = (CORE.schema.tags as unknown as Tag[]).filter((t) => t.default === true && t.test !== undefined);
const RESOLVE_OPTIONS = CORE.options;

function onResolveError(): never {
  throw GIVE_UP;
}

/** A plain scalar's value, as the core schema resolves it. */
function resolvePlain(s: string): unknown {
  const c = s.charCodeAt(0);
  // Letters other than n, t, f (null, true, false and their capitals) start only strings.
  if (((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) && c !== 110 && c !== 116 && c !== 102 && c !== 78 && c !== 84 && c !== 70) return s;
  for (const tag of CORE_TAGS) {
    if (tag.test!.test(s)) {
      const res = tag.resolve(s, onResolveError, RESOLVE_OPTIONS);
      return isScalar(res) ? res.value : res;
    }
  }
  return s;
}

/** Characters outside printable ASCII and newline: tabs, CR, control bytes, BOM, anything non-ASCII. */
const OUTSIDE_SUBSET = /[^\x20-\x7e\n]/;

export function fastParse(text: string): FastParsed | undefined {
  if (OUTSIDE_SUBSET.test(text)) return undefined;
  try {
    return new Reader(text).document();
  } catch (err) {
    if (err === GIVE_UP) return undefined;
    throw err;
  }
}

interface Parsed {
  value: unknown;
  pos: PosNode;
  /** Where the node ends including what trails it (yaml's range[2]); the parent's end. */
  end: number;
}

const SPACE = 32;
const HASH = 35;
const COLON = 58;
const DASH = 45;
const NL = 10;

class Reader {
  private readonly text: string;
  private readonly len: number;
  /** Content lines (not blank, not comments): start offset, end offset (the newline or EOF), indentation. */
  private readonly ls: number[] = [];
  private readonly le: number[] = [];
  private readonly li: number[] = [];
  readonly lineStarts: number[] = [0];

  constructor(text: string) {
    this.text = text;
    this.len = text.length;
    let s = 0;
    while (s <= this.len) {
      let e = text.indexOf('\n', s);
      if (e < 0) e = this.len;
      else this.lineStarts.push(e + 1);
      let i = s;
      while (i < e && text.charCodeAt(i) === SPACE) i++;
      if (i < e) {
        const c = text.charCodeAt(i);
        if (c === HASH) {
          if (i > s) throw GIVE_UP; // an indented comment line
        } else {
          // `---`, `...` (document markers) and `%` directives at column 0
          if (i === s && (c === 37 || text.startsWith('---', s) || text.startsWith('...', s))) throw GIVE_UP;
          this.ls.push(s);
          this.le.push(e);
          this.li.push(i - s);
        }
      }
      if (e === this.len) break;
      s = e + 1;
    }
  }

  document(): FastParsed {
    if (this.ls.length === 0) throw GIVE_UP;
    if (this.li[0] !== 0) throw GIVE_UP; // an indented root: rare, and the column rules differ
    const node = this.blockNode(0, 0, 1);
    if (node.next !== this.ls.length) throw GIVE_UP;
    return { value: node.value, pos: node.pos, lineStarts: this.lineStarts };
  }

  /** Offset just past line `l`'s newline (or EOF): where a one-line value's node ends. */
  private lineEnd(l: number): number {
    const e = this.le[l]!;
    return e < this.len ? e + 1 : e;
  }

  private isSeqItem(at: number, lineEnd: number): boolean {
    return this.text.charCodeAt(at) === DASH && (at + 1 === lineEnd || this.text.charCodeAt(at + 1) === SPACE);
  }

  /** A block mapping or sequence starting on content line `l` at column `col`. */
  private blockNode(l: number, col: number, depth: number): Parsed & { next: number } {
    const at = this.ls[l]! + col;
    if (this.isSeqItem(at, this.le[l]!)) return this.blockSeq(l, col, depth);
    return this.blockMap(l, col, at, depth);
  }

  /**
   * A block mapping whose first key is at offset `first` on line `l`, at
   * column `col` (for `- key: value` the key sits after the dash).
   */
  private blockMap(l: number, col: number, first: number, depth: number): Parsed & { next: number } {
    if (depth > MAX_DEPTH) throw GIVE_UP; // the full parser reports it (MESH013)
    const text = this.text;
    const value: Record<string, unknown> = {};
    const k: string[] = [];
    const kr: number[] = [];
    const v: PosNode[] = [];
    const seen = new Set<string>();
    let keyAt = first;
    let end = first;
    for (;;) {
      const lineEnd = this.le[l]!;
      // The key: up to the first `:` followed by a space or the end of the line.
      const c0 = text.charCodeAt(keyAt);
      if (!plainStart(c0, text.charCodeAt(keyAt + 1))) throw GIVE_UP;
      let colon = keyAt;
      for (;;) {
        colon = text.indexOf(':', colon + 1);
        if (colon < 0 || colon >= lineEnd) throw GIVE_UP; // not a `key: value` line
        const after = colon + 1;
        if (after === lineEnd || text.charCodeAt(after) === SPACE) break;
      }
      const keyEnd = colon;
      if (text.charCodeAt(keyEnd - 1) === SPACE || keyEnd - keyAt > MAX_KEY) throw GIVE_UP;
      const key = text.slice(keyAt, keyEnd);
      if (key.includes(' #') || typeof resolvePlain(key) !== 'string' || key === '__proto__' || key === '<<' || seen.has(key)) throw GIVE_UP;
      seen.add(key);

      let p = colon + 1;
      while (p < lineEnd && text.charCodeAt(p) === SPACE) p++;
      let child: Parsed;
      let next: number;
      if (p === lineEnd) {
        // The value is a block node on the lines below.
        next = l + 1;
        if (next >= this.ls.length) throw GIVE_UP; // `key:` with nothing: an empty value
        const ind = this.li[next]!;
        if (ind > col) {
          const n = this.blockNode(next, ind, depth + 1);
          child = n;
          next = n.next;
        } else if (ind === col && this.isSeqItem(this.ls[next]! + ind, this.le[next]!)) {
          const n = this.blockSeq(next, col, depth + 1);
          child = n;
          next = n.next;
        } else throw GIVE_UP;
      } else {
        if (text.charCodeAt(p) === HASH) throw GIVE_UP; // `key: # comment` then a block below
        child = this.inlineValue(p, lineEnd, l, depth + 1);
        next = l + 1;
        if (next < this.ls.length && this.li[next]! > col) throw GIVE_UP; // a continuation line
      }
      value[key] = child.value;
      k.push(key);
      kr.push(keyAt, keyEnd);
      v.push(child.pos);
      end = child.end;

      if (next >= this.ls.length || this.li[next]! < col) return { value, pos: { s: first, e: end, k, kr, v }, end, next };
      if (this.li[next]! > col) throw GIVE_UP;
      l = next;
      keyAt = this.ls[l]! + col;
      if (this.isSeqItem(keyAt, this.le[l]!)) throw GIVE_UP; // a sequence item among the keys
    }
  }

  /** A block sequence whose dashes are at column `col`, from line `l`. */
  private blockSeq(l: number, col: number, depth: number): Parsed & { next: number } {
    if (depth > MAX_DEPTH) throw GIVE_UP;
    const text = this.text;
    const value: unknown[] = [];
    const items: PosNode[] = [];
    const s = this.ls[l]! + col;
    let end = s;
    for (;;) {
      const lineEnd = this.le[l]!;
      let p = this.ls[l]! + col + 1;
      while (p < lineEnd && text.charCodeAt(p) === SPACE) p++;
      let child: Parsed;
      let next: number;
      if (p === lineEnd) {
        next = l + 1;
        if (next >= this.ls.length || this.li[next]! <= col) throw GIVE_UP; // an empty item
        const n = this.blockNode(next, this.li[next]!, depth + 1);
        child = n;
        next = n.next;
      } else {
        const c = text.charCodeAt(p);
        if (c === HASH || this.isSeqItem(p, lineEnd)) throw GIVE_UP; // `- # comment`, `- - x`
        if (this.isKeyLine(p, lineEnd)) {
          const n = this.blockMap(l, p - this.ls[l]!, p, depth + 1);
          child = n;
          next = n.next;
        } else {
          child = this.inlineValue(p, lineEnd, l, depth + 1);
          next = l + 1;
          if (next < this.ls.length && this.li[next]! > col) throw GIVE_UP;
        }
      }
      value.push(child.value);
      items.push(child.pos);
      end = child.end;
      if (next >= this.ls.length || this.li[next]! < col) return { value, pos: { s, e: end, i: items }, end, next };
      if (this.li[next]! > col) throw GIVE_UP;
      l = next;
      if (!this.isSeqItem(this.ls[l]! + col, this.le[l]!)) {
        // A key at the dashes' column ends a sequence that sits under a key at that column.
        return { value, pos: { s, e: end, i: items }, end, next };
      }
    }
  }

  /** Does a plain `key:` start at `p` (a `:` followed by a space or the line's end, before any comment)? */
  private isKeyLine(p: number, lineEnd: number): boolean {
    const text = this.text;
    const c = text.charCodeAt(p);
    if (c === 34 || c === 39 || c === 91) {
      // A quoted scalar or a flow sequence: read as a value; a `:` after it (a quoted or
      // complex key) then fails restOfLine and gives up.
      return false;
    }
    for (let i = p; i < lineEnd; i++) {
      const ch = text.charCodeAt(i);
      if (ch === COLON && (i + 1 === lineEnd || text.charCodeAt(i + 1) === SPACE)) return true;
      if (ch === HASH && i > p && text.charCodeAt(i - 1) === SPACE) return false;
    }
    return false;
  }

  /** A one-line value from `p`: a plain or quoted scalar or a flow sequence, then at most a comment. */
  private inlineValue(p: number, lineEnd: number, l: number, depth: number): Parsed {
    if (depth > MAX_DEPTH) throw GIVE_UP; // a scalar too deep is MESH013 as much as a mapping
    const text = this.text;
    const c = text.charCodeAt(p);
    let value: unknown;
    let e: number;
    if (c === 91) {
      if (depth > MAX_DEPTH - 1) throw GIVE_UP;
      const r = this.flowSeq(p, lineEnd);
      this.restOfLine(r.e, lineEnd);
      return { value: r.value, pos: { s: p, e: r.e, i: r.items }, end: this.lineEnd(l) };
    }
    if (c === 34 || c === 39) {
      const r = this.quoted(p, lineEnd);
      value = r.value;
      e = r.e;
    } else {
      if (!plainStart(c, text.charCodeAt(p + 1))) throw GIVE_UP;
      // A plain scalar runs to ` #` or the end of the line; `: ` inside it is a nested mapping.
      let stop = lineEnd;
      for (let i = p + 1; i < lineEnd; i++) {
        const ch = text.charCodeAt(i);
        if (ch === HASH && text.charCodeAt(i - 1) === SPACE) {
          stop = i;
          break;
        }
        if (ch === COLON && (i + 1 === lineEnd || text.charCodeAt(i + 1) === SPACE)) throw GIVE_UP;
      }
      e = stop;
      while (text.charCodeAt(e - 1) === SPACE) e--;
      value = resolvePlain(text.slice(p, e));
      return { value, pos: { s: p, e }, end: this.lineEnd(l) };
    }
    this.restOfLine(e, lineEnd);
    return { value, pos: { s: p, e }, end: this.lineEnd(l) };
  }

  /** After a value: only spaces, then optionally a comment. */
  private restOfLine(i: number, lineEnd: number): void {
    if (i === lineEnd) return;
    if (this.text.charCodeAt(i) !== SPACE) throw GIVE_UP;
    while (i < lineEnd && this.text.charCodeAt(i) === SPACE) i++;
    if (i < lineEnd && this.text.charCodeAt(i) !== HASH) throw GIVE_UP;
  }

  /** A quoted scalar on one line: 'single' ('' for a quote) or "double" without escapes. */
  private quoted(p: number, lineEnd: number): { value: string; e: number } {
    const text = this.text;
    const q = text.charCodeAt(p);
    if (q === 34) {
      const close = text.indexOf('"', p + 1);
      if (close < 0 || close >= lineEnd) throw GIVE_UP;
      const inner = text.slice(p + 1, close);
      if (inner.includes('\\')) throw GIVE_UP;
      return { value: inner, e: close + 1 };
    }
    let out = '';
    let i = p + 1;
    for (;;) {
      const close = text.indexOf("'", i);
      if (close < 0 || close >= lineEnd) throw GIVE_UP;
      out += text.slice(i, close);
      if (text.charCodeAt(close + 1) === 39) {
        out += "'";
        i = close + 2;
        continue;
      }
      return { value: out, e: close + 1 };
    }
  }

  /** `[a, "b", 3]` on one line. */
  private flowSeq(p: number, lineEnd: number): { value: unknown[]; items: PosNode[]; e: number } {
    const text = this.text;
    const value: unknown[] = [];
    const items: PosNode[] = [];
    let i = p + 1;
    while (i < lineEnd && text.charCodeAt(i) === SPACE) i++;
    if (text.charCodeAt(i) === 93) return { value, items, e: i + 1 };
    for (;;) {
      if (i >= lineEnd) throw GIVE_UP;
      const c = text.charCodeAt(i);
      let s = i;
      let e: number;
      if (c === 34 || c === 39) {
        const r = this.quoted(i, lineEnd);
        value.push(r.value);
        e = r.e;
        i = e;
      } else {
        const d = text.charCodeAt(i + 1);
        // In a flow sequence `-` must be followed by a character that can go on a plain scalar.
        if (!plainStart(c, d) || (c === DASH && (d === 44 || d === 91 || d === 93 || d === 123 || d === 125))) throw GIVE_UP;
        let j = i + 1;
        for (; j < lineEnd; j++) {
          const ch = text.charCodeAt(j);
          if (ch === 44 || ch === 93) break; // , ]
          // flow indicators, `: ` and ` #` inside a flow plain scalar: not in the subset
          if (ch === 91 || ch === 123 || ch === 125 || ch === COLON || (ch === HASH && text.charCodeAt(j - 1) === SPACE)) throw GIVE_UP;
        }
        e = j;
        while (text.charCodeAt(e - 1) === SPACE) e--;
        s = i;
        value.push(resolvePlain(text.slice(s, e)));
        i = j;
      }
      items.push({ s, e });
      while (i < lineEnd && text.charCodeAt(i) === SPACE) i++;
      const d = text.charCodeAt(i);
      if (d === 93) return { value, items, e: i + 1 };
      if (d !== 44 || i >= lineEnd) throw GIVE_UP;
      i++;
      while (i < lineEnd && text.charCodeAt(i) === SPACE) i++;
      if (text.charCodeAt(i) === 93 || text.charCodeAt(i) === 44) throw GIVE_UP; // `[a, ]`, `[a,,b]`
    }
  }
}

/**
 * May a plain scalar start with `c` (followed by `d`)? Not with an indicator,
 * except `-` before a non-space (`-5`); `?` and `:` starts give up.
 */
function plainStart(c: number, d: number): boolean {
  switch (c) {
    case DASH:
      return d !== SPACE && d === d && d !== NL; // d !== d: NaN past the end
    case 63: // ?
    case COLON:
    case 44: // ,
    case 91: // [
    case 93: // ]
    case 123: // {
    case 125: // }
    case HASH:
    case 38: // &
    case 42: // *
    case 33: // !
    case 124: // |
    case 62: // >
    case 39: // '
    case 34: // "
    case 37: // %
    case 64: // @
    case 96: // `
    case SPACE:
      return false;
    default:
      return true;
  }
}
