/**
 * Reading one YAML source file into a document that remembers positions.
 * Every way a file can be bad (too big, not UTF-8, empty, syntax, duplicate
 * keys, tabs, alias bombs, absurd nesting) becomes a positioned diagnostic;
 * nothing here throws for bad input.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Document, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { diagAt, type Diagnostic, type SourcePos } from '../diag/diagnostic';
import { fastParse } from './fast-yaml';
import { isInside } from '../util/path-inside';

/**
 * Manifests are small and the policy file of a 10,000-service mesh is about
 * 1.5 MB; anything past this is a mistake or an attack and is not parsed.
 */
export const MAX_FILE_BYTES = 8 * 1024 * 1024;
/** Deeper than any real policy file; keeps the recursive composer far from the stack limit. */
export const MAX_NESTING = 64;
/** Real files use a handful of anchors; a billion-laughs bomb needs thousands of expansions. */
export const MAX_ALIAS_COUNT = 100;

/**
 * A parsed file as plain data: its value, where each of its nodes sits, and
 * where its lines start. Plain so that it can cross from a parse worker to
 * the main thread (src/config/parse-pool.ts) by structured clone; the YAML
 * document itself stays behind.
 */
export interface SourceFile {
  /** Path as shown in diagnostics (relative to the working directory when possible). */
  readonly file: string;
  /** Plain JS value of the document (undefined when it could not be built). */
  readonly value?: unknown;
  /** Offsets of the document's nodes (present whenever `value` is). */
  readonly pos?: PosNode;
  /** Offset at which each line starts (the yaml LineCounter's table). */
  readonly lineStarts: readonly number[];
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * Where a node of the document sits: [start, end) offsets, and for mappings
 * and sequences their children. A mapping lists every pair in order (`k[i]`
 * its key, null for a non-scalar key; `kr[2i], kr[2i+1]` the key's range;
 * `v[i]` the value, null when it is empty so that positions fall back to the
 * key). Aliases are leaves: paths do not follow them.
 */
export interface PosNode {
  readonly s: number;
  readonly e: number;
  readonly k?: readonly (string | null)[];
  readonly kr?: readonly number[];
  readonly v?: readonly (PosNode | null)[];
  readonly i?: readonly PosNode[];
}

/**
 * How a file on disk may be read. `root` is the real path of the mesh
 * directory: a file whose real path leaves it (a symlink to /etc/passwd, to a
 * token in a home folder) is not read unless `followExternalLinks`.
 */
export interface ReadRules {
  readonly root?: string;
  readonly followExternalLinks?: boolean;
  /** Default MAX_FILE_BYTES (tests lower it). */
  readonly maxBytes?: number;
  /**
   * Real paths of folders already resolved by this load (one per load, never
   * kept): a file that is no symlink, in a folder whose real path is inside
   * `root`, is inside it too, so it is opened with O_NOFOLLOW instead of
   * resolving its path (10,000 realpath calls were a third of reading 10,000
   * manifests). A symlink fails that open (ELOOP) and gets the full check.
   */
  readonly realDirs?: Map<string, string>;
}

export function readSourceFile(absPath: string, displayPath: string, rules: ReadRules = {}): SourceFile {
  const lineCounter = new LineCounter();
  const read = readRegularFile(absPath, displayPath, rules);
  if (!Buffer.isBuffer(read)) return failed(displayPath, lineCounter, read);
  return parseSourceText(read, displayPath, lineCounter);
}

/** Reads past the first (see readRegularFile); one per thread, never kept. */
const SCRATCH = Buffer.allocUnsafe(1 << 20);

/**
 * The file's bytes, or why they were not read. Only regular files are read
 * (a FIFO would block forever, /dev/zero never ends): the file is opened
 * non-blocking and checked with fstat on the open descriptor, so what is
 * checked is what is read. The size limit is enforced while reading, because
 * stat sizes lie (devices, procfs, a file still growing).
 */
export function readRegularFile(absPath: string, displayPath: string, rules: ReadRules = {}): Buffer | Diagnostic {
  const at1 = { file: displayPath, line: 1, col: 1 };
  const cannot = (why: string, hint?: string): Diagnostic => diagAt(at1, 'error', 'MESH003', `cannot read file: ${why}`, hint ? { hint } : {});
  let noFollow = 0;
  if (rules.root !== undefined && !rules.followExternalLinks && rules.realDirs !== undefined) {
    const dir = realDirOf(path.dirname(absPath), rules.realDirs);
    if (dir !== undefined && isInside(path.join(dir, path.basename(absPath)), rules.root)) noFollow = fs.constants.O_NOFOLLOW;
  }
  if (rules.root !== undefined && !rules.followExternalLinks && noFollow === 0) {
    let real: string;
    try {
      real = fs.realpathSync(absPath);
    } catch (err) {
      return cannot((err as NodeJS.ErrnoException).code ?? (err as Error).message);
    }
    if (!isInside(real, rules.root)) {
      return diagAt(at1, 'error', 'MESH007', 'file is a symbolic link to a file outside the mesh directory; it was not read', { hint: 'copy the file into the mesh directory (or set MESH_FOLLOW_EXTERNAL_LINKS=1 to follow such links)' });
    }
  }
  let fd: number;
  try {
    fd = fs.openSync(absPath, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY | noFollow);
  } catch (err) {
    // A symbolic link: resolved and checked as without the fast path.
    if (noFollow !== 0 && (err as NodeJS.ErrnoException).code === 'ELOOP') return readRegularFile(absPath, displayPath, { ...rules, realDirs: undefined });
    return cannot((err as NodeJS.ErrnoException).code ?? (err as Error).message);
  }
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) return cannot('it is a directory, not a file', 'a manifest is a file: services/<name>.yml');
    if (!st.isFile()) return cannot(`it is ${fileKind(st)}, not a regular file; only regular files are read`);
    const max = rules.maxBytes ?? MAX_FILE_BYTES;
    if (st.size > max) return tooLarge(displayPath, String(st.size), max);
    const chunks: Buffer[] = [];
    let total = 0;
    // Read one byte past the limit: that byte proves the file is too large, whatever stat said.
    // The first read asks for one byte past what stat said, the next ones (a file still growing,
    // and the read that finds the end) go through one scratch buffer: a fresh 1 MB buffer per read
    // made reading 10,000 small manifests three times slower than readFileSync.
    for (;;) {
      const first = chunks.length === 0;
      const want = Math.min(first ? st.size + 1 : SCRATCH.length, max + 1 - total);
      if (want <= 0) return tooLarge(displayPath, `more than ${max}`, max);
      const buf = first ? Buffer.allocUnsafe(want) : SCRATCH;
      const n = fs.readSync(fd, buf, 0, want, null);
      if (n === 0) break;
      chunks.push(first ? (n === want ? buf : buf.subarray(0, n)) : Buffer.from(buf.subarray(0, n)));
      total += n;
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  } catch (err) {
    return cannot((err as NodeJS.ErrnoException).code ?? (err as Error).message);
  } finally {
    fs.closeSync(fd);
  }
}

function realDirOf(dir: string, known: Map<string, string>): string | undefined {
  let real = known.get(dir);
  if (real === undefined) {
    try {
      real = fs.realpathSync(dir);
    } catch {
      return undefined; // the full check says why
    }
    known.set(dir, real);
  }
  return real;
}

function fileKind(st: fs.Stats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function tooLarge(displayPath: string, size: string, max = MAX_FILE_BYTES): Diagnostic {
  return diagAt({ file: displayPath, line: 1, col: 1 }, 'error', 'MESH004', `file is ${size} bytes; the limit is ${max} bytes`, { hint: 'policy and manifest files are small: split or fix this file' });
}

/** The diagnostic for a file over MAX_FILE_BYTES (also for files that come from memory). */
export function readSourceFileTooLarge(displayPath: string, size: number): SourceFile {
  return failed(displayPath, new LineCounter(), tooLarge(displayPath, String(size)));
}

export function parseSourceText(bytes: Buffer, displayPath: string, lineCounter = new LineCounter()): SourceFile {
  const text = decodeUtf8(bytes, displayPath, lineCounter);
  if (typeof text !== 'string') return failed(displayPath, lineCounter, text);
  return parseYamlText(text, displayPath);
}

/**
 * Decoded text to a SourceFile. Plain files take the fast reader
 * (src/config/fast-yaml.ts), which gives the same result as the yaml package;
 * `fast: false` forces the yaml package (the tests compare the two).
 */
export function parseYamlText(text: string, displayPath: string, opts: { fast?: boolean } = {}): SourceFile {
  const lineCounter = new LineCounter();
  if (text.trim() === '') {
    return failed(displayPath, lineCounter, diagAt({ file: displayPath, line: 1, col: 1 }, 'error', 'MESH006', 'file is empty (no YAML content)', { hint: 'add the mapping this file should hold, or delete the file' }));
  }
  if (opts.fast !== false) {
    const fast = fastParse(text);
    if (fast) return { file: displayPath, value: fast.value, pos: fast.pos, lineStarts: fast.lineStarts, diagnostics: [] };
  }
  const deep = findDeepFlowNesting(text, displayPath);
  if (deep) return failed(displayPath, lineCounter, deep);

  let doc: Document.Parsed;
  try {
    // uniqueKeys is checked by findDuplicateKeys below: the parser's own check scans
    // every earlier key for each new one, quadratic in the 5,000-key policy maps of big meshes.
    doc = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false, strict: true });
  } catch (err) {
    // The composer recurses; MAX_NESTING pre-checks flow nesting, this catches the rest.
    return failed(displayPath, lineCounter, diagAt({ file: displayPath, line: 1, col: 1 }, 'error', 'MESH013', `document is too deeply nested or too complex to parse (${(err as Error).message})`));
  }
  const diagnostics: Diagnostic[] = [];
  // After the first syntax error the parser's later complaints are mostly echoes of
  // it; keep the first one, and every duplicate key (those never cascade).
  const firstSyntax = doc.errors[0];
  if (firstSyntax) {
    const p = firstSyntax.linePos?.[0] ?? lineCounter.linePos(firstSyntax.pos[0]);
    const code = firstSyntax.code === 'TAB_AS_INDENT' ? 'MESH015' : 'MESH010';
    diagnostics.push(diagAt({ file: displayPath, line: p.line, col: p.col }, 'error', code, firstLine(firstSyntax.message), code === 'MESH015' ? { hint: 'YAML indentation must use spaces, not tabs' } : {}));
  }
  diagnostics.push(...findDuplicateKeys(doc, displayPath, lineCounter));
  const lineStarts = lineCounter.lineStarts;
  if (diagnostics.length > 0) return { file: displayPath, lineStarts, diagnostics };

  const nested = checkDepth(doc, displayPath, lineCounter);
  if (nested) return { file: displayPath, lineStarts, diagnostics: [nested] };
  try {
    const value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    if (value === null || value === undefined) {
      return { file: displayPath, lineStarts, diagnostics: [diagAt({ file: displayPath, line: 1, col: 1 }, 'error', 'MESH006', 'file is empty (no YAML content)')] };
    }
    return { file: displayPath, value, pos: posTree(doc.contents), lineStarts, diagnostics: [] };
  } catch (err) {
    const alias = firstAliasPos(doc, displayPath, lineCounter);
    return { file: displayPath, lineStarts, diagnostics: [diagAt(alias, 'error', 'MESH012', `too many alias expansions (limit ${MAX_ALIAS_COUNT}): ${firstLine((err as Error).message)}`, { hint: 'this looks like an alias bomb; write the values out' })] };
  }
}

function failed(file: string, lineCounter: LineCounter, d: Diagnostic): SourceFile {
  return { file, lineStarts: lineCounter.lineStarts, diagnostics: [d] };
}

/** The position tree of a document that passed checkDepth (so the recursion is shallow). */
function posTree(node: unknown): PosNode {
  if (isMap(node)) {
    const k: (string | null)[] = [];
    const kr: number[] = [];
    const v: (PosNode | null)[] = [];
    for (const pair of node.items) {
      const key = pair.key;
      const scalarKey = isScalar(key);
      k.push(scalarKey ? String(key.value) : null);
      const r = (key as Node | null)?.range;
      kr.push(r ? r[0] : -1, r ? r[1] : -1);
      const val = pair.value as Node | null;
      // `key:` with nothing after it: the empty value has no useful position, the key has.
      const empty = val === null || (isScalar(val) && val.value === null && val.range !== undefined && val.range !== null && val.range[0] === val.range[1]);
      v.push(empty ? null : posTree(val));
    }
    const r = node.range;
    return r ? { s: r[0], e: r[1], k, kr, v } : { s: -1, e: -1, k, kr, v };
  }
  if (isSeq(node)) {
    const r = node.range;
    const i = node.items.map(posTree);
    return r ? { s: r[0], e: r[1], i } : { s: -1, e: -1, i };
  }
  if (isPair(node)) return rangeOf(node.key); // `[a: 1]`: a pair inside a flow sequence; point at its key
  return rangeOf(node);
}

function rangeOf(node: unknown): { s: number; e: number } {
  const r = (node as Node | null)?.range;
  return r ? { s: r[0], e: r[1] } : { s: -1, e: -1 };
}

/** Every repeated key of every mapping, at the repeat, in one linear pass. */
function findDuplicateKeys(doc: Document.Parsed, file: string, lc: LineCounter): Diagnostic[] {
  const out: Diagnostic[] = [];
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const item of node.items) {
        if (isScalar(item.key)) {
          const key = String(item.key.value);
          if (seen.has(key) && item.key.range) {
            const p = lc.linePos(item.key.range[0]);
            out.push(diagAt({ file, line: p.line, col: p.col }, 'error', 'MESH011', `duplicate key ${JSON.stringify(key)}: YAML map keys must be unique`));
          }
          seen.add(key);
        }
        stack.push(item.value);
      }
    } else if (isSeq(node)) stack.push(...node.items);
  }
  return out;
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}

/** One decoder for every file (decode without `stream` keeps no state between calls). */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Non-UTF-8 bytes are reported at the first bad byte, not silently replaced. */
function decodeUtf8(bytes: Buffer, file: string, lineCounter: LineCounter): string | Diagnostic {
  void lineCounter;
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    const bad = firstInvalidUtf8Offset(bytes);
    const prefix = bytes.subarray(0, bad).toString('utf8');
    const pos = positionOfOffset(prefix, prefix.length, file);
    return diagAt(pos, 'error', 'MESH005', `file is not valid UTF-8 (bad byte 0x${bytes[bad]?.toString(16).padStart(2, '0')} at offset ${bad})`, { hint: 'save the file as UTF-8' });
  }
  if (text.includes('\u0000')) {
    const pos = positionOfOffset(text, text.indexOf('\u0000'), file);
    return diagAt(pos, 'error', 'MESH005', 'file contains a NUL byte: it is not a text file');
  }
  // CR alone is a line break in YAML (classic Mac files). The yaml package reads
  // it as nothing at all; as LF (same length, so every offset stays) it reads as YAML says.
  return text.includes('\r') ? text.replace(/\r(?!\n)/g, '\n') : text;
}

/**
 * Offset of the first byte that starts an invalid UTF-8 sequence (RFC 3629:
 * no overlongs, no surrogates, nothing past U+10FFFF, no truncated sequence).
 * A scan, because a decoder only says "somewhere".
 */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const c = bytes[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return i;
    const second = bytes[i + 1];
    if (second === undefined || second < lo || second > hi) return i;
    for (let k = 2; k <= need; k++) {
      const b = bytes[i + k];
      if (b === undefined || (b & 0xc0) !== 0x80) return i;
    }
    i += need + 1;
  }
  return n;
}

function positionOfOffset(text: string, offset: number, file: string): SourcePos {
  let line = 1;
  let lastNl = -1;
  for (let i = 0; i < offset; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lastNl = i;
    }
  }
  return { file, line, col: offset - lastNl };
}

/**
 * Flow collections (`[[[[...]]]]`) nest without indentation and recurse in the
 * parser; count them before parsing. Quoted strings are skipped roughly (a
 * false alarm needs 64 brackets inside a string, which no policy has).
 */
function findDeepFlowNesting(text: string, file: string): Diagnostic | undefined {
  let depth = 0;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = '';
      else if (c === '\n') quote = '';
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '#') {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl;
    } else if (c === '[' || c === '{') {
      if (++depth > MAX_NESTING) {
        return diagAt(positionOfOffset(text, i, file), 'error', 'MESH013', `nesting deeper than ${MAX_NESTING} levels`);
      }
    } else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
  }
  return undefined;
}

/** Block nesting (by indentation), checked on the parsed tree without recursion. */
function checkDepth(doc: Document.Parsed, file: string, lc: LineCounter): Diagnostic | undefined {
  const stack: Array<[unknown, number]> = [[doc.contents, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > MAX_NESTING) {
      const range = (node as Node | null)?.range;
      const p = range ? lc.linePos(range[0]) : { line: 1, col: 1 };
      return diagAt({ file, line: p.line, col: p.col }, 'error', 'MESH013', `nesting deeper than ${MAX_NESTING} levels`);
    }
    if (isMap(node) || isSeq(node)) {
      for (const item of node.items) stack.push([isPair(item) ? item.value : item, depth + 1]);
    }
  }
  return undefined;
}

function firstAliasPos(doc: Document.Parsed, file: string, lc: LineCounter): SourcePos {
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isAlias(node) && node.range) {
      const p = lc.linePos(node.range[0]);
      return { file, line: p.line, col: p.col };
    }
    if (isMap(node) || isSeq(node)) {
      for (const item of [...node.items].reverse()) {
        if (isPair(item)) stack.push(item.value, item.key);
        else stack.push(item);
      }
    } else if (isScalar(node)) continue;
  }
  return { file, line: 1, col: 1 };
}
