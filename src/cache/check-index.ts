/**
 * The check index: what the last `mesh build` wrote to one --out, so that
 * `mesh build --check` compares an unchanged file by a `stat` instead of
 * reading it and the cache entry it came from (issue 20 item 4; git's index
 * does the same for `git status`).
 *
 * One file per --out in the build cache folder (never under out/, which holds
 * build outputs only): `<cache>/check/<sha256 of out's real path>.idx`,
 * written by every `mesh build` that used the cache, after the swap, and by a
 * --check that found out/ up to date (so that files a build wrote within the
 * last clock tick, or a build without the cache, get stat-compared next time, as
 * `git status` refreshes git's index). It holds
 * MAGIC, the SHA-256 of the rest, then JSON: the out path, and per node its
 * key, manifest entry and files; per file its SHA-256 and what `stat` said
 * after the write (size, mtime, ctime, inode, device, in nanoseconds).
 *
 * How --check uses it: a node whose key is in the index is not rendered nor
 * read from the cache; each of its files must exist in out/ and either stat
 * exactly as recorded (and not be "racy": changed within the clock tick of
 * the index write, as git calls it), or hash to the recorded SHA-256. The key
 * is the SHA-256 of every input of the node, so the recorded hash is what the
 * sources make today. Every other node is rendered and compared byte by byte,
 * and out/ is listed (names only) for missing and extra files.
 *
 * A missing, damaged, foreign (another out path) or unreadable index means
 * today's full compare: the index can only make --check faster, never say
 * "up to date" when a full compare would not.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FileTree } from '../output/write-tree';
import { MARKER } from '../output/out-dir';

const MAGIC = 'HMS-CHECK-INDEX 2\n';
const RACY_NS = 100_000_000n;

/** What stat said of a file or folder: `size:mtime ns:ctime ns:inode:device` (one string: 60,000 of them are parsed per --check). */
type StatSig = string;

export interface IndexedNode {
  readonly entryText: string;
  readonly paths: readonly string[];
}

interface IndexBody {
  readonly out: string;
  /** Node key -> its manifest entry and files. */
  readonly nodes: Record<string, IndexedNode>;
  /** Path -> [sha256 base64, stat signature]; a racy file has no signature (always hashed). */
  readonly files: Record<string, readonly [string, StatSig | null]>;
  /**
   * Folder (`''` for out/ itself, else `a/b/`) -> its stat signature when the
   * index was written, null when racy. A folder whose stat is unchanged holds
   * the entries it held then (creating, removing or renaming an entry changes
   * the folder's mtime and ctime), so --check lists only the folders that changed.
   */
  readonly dirs: Record<string, StatSig | null>;
}

export interface CheckIndex {
  readonly nodes: ReadonlyMap<string, IndexedNode>;
  readonly files: ReadonlyMap<string, readonly [string, StatSig | null]>;
  readonly dirs: ReadonlyMap<string, StatSig | null>;
}

function realOut(outDir: string): string {
  try {
    return fs.realpathSync(outDir);
  } catch {
    return path.resolve(outDir);
  }
}

export function checkIndexFile(cacheDir: string, outDir: string): string {
  return path.join(cacheDir, 'check', `${createHash('sha256').update(realOut(outDir)).digest('hex').slice(0, 32)}.idx`);
}

function statSig(file: string, kind: 'file' | 'dir' = 'file'): { sig: StatSig; mtimeNs: bigint; ctimeNs: bigint } | undefined {
  try {
    const st = fs.lstatSync(file, { bigint: true });
    if (kind === 'file' ? !st.isFile() : !st.isDirectory()) return undefined;
    return { sig: `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}:${st.dev}`, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
  } catch {
    return undefined;
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64');
}

/** The per-node part of a build: key -> manifest entry and file paths (from the emitted tree). */
export interface BuiltNode {
  readonly key: string;
  readonly entryText: string;
  readonly paths: readonly string[];
}

/** Path -> SHA-256 of the bytes a build wrote there. */
export function hashTree(tree: FileTree): Map<string, string> {
  const out = new Map<string, string>();
  for (const [rel, content] of tree) out.set(rel, sha256(typeof content === 'string' ? Buffer.from(content, 'utf8') : content));
  return out;
}

/**
 * After a build wrote files of these hashes to `outDir` (or a --check found
 * them there): records them with what stat says now. Best effort: an error
 * only leaves the index out (the next --check compares in full).
 */
export function writeCheckIndex(cacheDir: string, outDir: string, hashes: ReadonlyMap<string, string>, nodes: readonly BuiltNode[]): void {
  const file = checkIndexFile(cacheDir, outDir);
  try {
    // Taken before any stat: a file whose times are not older than this may change again within the same tick unseen.
    const startNs = BigInt(Date.now()) * 1_000_000n;
    const files: Record<string, readonly [string, StatSig | null]> = {};
    // 100 ms: well above the kernel's file-time tick (a few ms), which may lag Date.now by one tick.
    const racy = (st: { mtimeNs: bigint; ctimeNs: bigint }): boolean => st.ctimeNs + RACY_NS >= startNs || st.mtimeNs + RACY_NS >= startNs;
    const dirs: Record<string, StatSig | null> = {};
    for (const [rel, hash] of hashes) {
      const st = statSig(path.join(outDir, rel));
      if (!st) return; // out/ is not what was written: no index
      files[rel] = [hash, racy(st) ? null : st.sig];
      for (let i = rel.lastIndexOf('/'); i >= 0; i = rel.lastIndexOf('/', i - 1)) {
        const d = rel.slice(0, i + 1);
        if (d in dirs) break;
        dirs[d] = null;
      }
    }
    dirs[''] = null;
    for (const d of Object.keys(dirs)) {
      const st = statSig(path.join(outDir, d), 'dir');
      if (!st) return;
      dirs[d] = racy(st) ? null : st.sig;
    }
    const body: IndexBody = { out: realOut(outDir), nodes: Object.fromEntries(nodes.map((n) => [n.key, { entryText: n.entryText, paths: n.paths }])), files, dirs };
    const text = JSON.stringify(body);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, `${MAGIC}${sha256(Buffer.from(text, 'utf8'))}\n${text}`);
    fs.renameSync(tmp, file);
  } catch {
    try {
      fs.rmSync(file, { force: true });
    } catch {
      // The cache folder is unusable (the build warned MESH254): there is no index to leave behind.
    }
  }
}

/** The index of `outDir`, or undefined when there is none or it fails any check (then --check compares in full). */
export function readCheckIndex(cacheDir: string, outDir: string): CheckIndex | undefined {
  let raw: string;
  try {
    raw = fs.readFileSync(checkIndexFile(cacheDir, outDir), 'utf8');
  } catch {
    return undefined;
  }
  if (!raw.startsWith(MAGIC)) return undefined;
  const nl = raw.indexOf('\n', MAGIC.length);
  if (nl < 0) return undefined;
  const text = raw.slice(nl + 1);
  if (raw.slice(MAGIC.length, nl) !== sha256(Buffer.from(text, 'utf8'))) return undefined;
  let body: IndexBody;
  try {
    body = JSON.parse(text) as IndexBody;
  } catch {
    return undefined;
  }
  if (body === null || typeof body !== 'object' || body.out !== realOut(outDir) || typeof body.nodes !== 'object' || typeof body.files !== 'object' || typeof body.dirs !== 'object' || body.dirs === null) return undefined;
  const files = new Map(Object.entries(body.files));
  const dirs = new Map(Object.entries(body.dirs));
  const nodes = new Map<string, IndexedNode>();
  for (const [key, n] of Object.entries(body.nodes)) {
    if (typeof n?.entryText !== 'string' || !Array.isArray(n.paths)) return undefined;
    // A node is usable only when every one of its files is recorded.
    if (n.paths.every((p) => typeof p === 'string' && Array.isArray(files.get(p)))) nodes.set(key, n);
  }
  return { nodes, files, dirs };
}

export interface IndexedDiff {
  readonly added: string[];
  readonly removed: string[];
  readonly changed: string[];
  /** Skipped files whose stat did not match (hashed instead): a fresh index would stat them next time. */
  readonly rehashed: number;
  /** Folders the index records that had to be listed (changed, or racy when recorded). */
  readonly relisted: number;
}

/**
 * --check with the index: `expected` holds the rendered files (compared by
 * bytes), `skipped` the files of indexed nodes (compared by stat, else hash).
 */
export function diffWithIndex(expected: FileTree, skipped: readonly string[], index: CheckIndex, dir: string): IndexedDiff {
  const { files: onDisk, relisted } = listTree(dir, index);
  const added: string[] = [];
  const changed: string[] = [];
  let rehashed = 0;
  for (const [rel, content] of expected) {
    if (!onDisk.has(rel)) added.push(rel);
    else {
      const want = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
      const have = readOrUndefined(path.join(dir, rel));
      if (!have || !Buffer.from(want.buffer, want.byteOffset, want.byteLength).equals(have)) changed.push(rel);
    }
  }
  const wanted = new Set(expected.keys());
  for (const rel of skipped) {
    wanted.add(rel);
    if (!onDisk.has(rel)) {
      added.push(rel);
      continue;
    }
    const [hash, sig] = index.files.get(rel)!;
    if (sig && statSig(path.join(dir, rel))?.sig === sig) continue;
    rehashed++;
    const have = readOrUndefined(path.join(dir, rel));
    if (!have || sha256(have) !== hash) changed.push(rel);
  }
  const removed = [...onDisk].filter((rel) => !wanted.has(rel));
  return { added: added.sort(), removed: removed.sort(), changed: changed.sort(), rehashed, relisted };
}

function readOrUndefined(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined; // unreadable, or a folder now: reported as changed
  }
}

/**
 * Every file's path under `dir` (the marker aside), as readTree names them;
 * nothing read. A folder the index records with its stat unchanged is not
 * listed: its entries are the index's (see IndexBody.dirs).
 */
function listTree(dir: string, index: CheckIndex): { files: Set<string>; relisted: number } {
  const out = new Set<string>();
  let relisted = 0;
  const children = childrenOf(index);
  const walk = (d: string, rel: string): void => {
    const sig = index.dirs.get(rel);
    const known = children.get(rel);
    if (sig && known && statSig(d, 'dir')?.sig === sig) {
      for (const f of known.files) out.add(f);
      for (const sub of known.dirs) walk(path.join(dir, sub), sub);
      return;
    }
    if (index.dirs.has(rel)) relisted++;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name), `${rel}${e.name}/`);
      else if (d === dir && e.name === MARKER) continue;
      else out.add(`${rel}${e.name}`);
    }
  };
  if (fs.existsSync(dir)) walk(dir, '');
  return { files: out, relisted };
}

/** Folder -> the files and sub-folders the index records in it. */
function childrenOf(index: CheckIndex): Map<string, { files: string[]; dirs: string[] }> {
  const out = new Map<string, { files: string[]; dirs: string[] }>();
  const of = (d: string): { files: string[]; dirs: string[] } => {
    let c = out.get(d);
    if (!c) out.set(d, (c = { files: [], dirs: [] }));
    return c;
  };
  for (const rel of index.files.keys()) {
    const i = rel.lastIndexOf('/');
    of(rel.slice(0, i + 1)).files.push(rel);
  }
  for (const d of index.dirs.keys()) {
    if (d === '') continue;
    const i = d.lastIndexOf('/', d.length - 2);
    of(d.slice(0, i + 1)).dirs.push(d);
  }
  return out;
}
