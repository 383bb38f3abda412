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

const MAGIC = 'HMS-CHECK-INDEX 1\n';
const RACY_NS = 100_000_000n;

/** What stat said of a file: size, mtime ns, ctime ns, inode, device (decimal strings: bigint stats). */
type StatSig = readonly [string, string, string, string, string];

export interface IndexedNode {
  readonly entryText: string;
  readonly paths: readonly string[];
}

interface IndexBody {
  readonly out: string;
  /** Node key -> its manifest entry and files. */
  readonly nodes: Record<string, IndexedNode>;
  /** Path -> [sha256 hex, stat signature]; a racy file has no signature (always hashed). */
  readonly files: Record<string, readonly [string, StatSig | null]>;
}

export interface CheckIndex {
  readonly nodes: ReadonlyMap<string, IndexedNode>;
  readonly files: ReadonlyMap<string, readonly [string, StatSig | null]>;
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

function statSig(file: string): StatSig | undefined {
  try {
    const st = fs.lstatSync(file, { bigint: true });
    if (!st.isFile()) return undefined;
    return [String(st.size), String(st.mtimeNs), String(st.ctimeNs), String(st.ino), String(st.dev)];
  } catch {
    return undefined;
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
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
    for (const [rel, hash] of hashes) {
      const sig = statSig(path.join(outDir, rel));
      if (!sig) return; // out/ is not what was written: no index
      // 100 ms: well above the kernel's file-time tick (a few ms), which may lag Date.now by one tick.
      const racy = BigInt(sig[2]) + RACY_NS >= startNs || BigInt(sig[1]) + RACY_NS >= startNs;
      files[rel] = [hash, racy ? null : sig];
    }
    const body: IndexBody = { out: realOut(outDir), nodes: Object.fromEntries(nodes.map((n) => [n.key, { entryText: n.entryText, paths: n.paths }])), files };
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
  if (body === null || typeof body !== 'object' || body.out !== realOut(outDir) || typeof body.nodes !== 'object' || typeof body.files !== 'object') return undefined;
  const files = new Map(Object.entries(body.files));
  const nodes = new Map<string, IndexedNode>();
  for (const [key, n] of Object.entries(body.nodes)) {
    if (typeof n?.entryText !== 'string' || !Array.isArray(n.paths)) return undefined;
    // A node is usable only when every one of its files is recorded.
    if (n.paths.every((p) => typeof p === 'string' && Array.isArray(files.get(p)))) nodes.set(key, n);
  }
  return { nodes, files };
}

export interface IndexedDiff {
  readonly added: string[];
  readonly removed: string[];
  readonly changed: string[];
  /** Skipped files whose stat did not match (hashed instead): a fresh index would stat them next time. */
  readonly rehashed: number;
}

/**
 * --check with the index: `expected` holds the rendered files (compared by
 * bytes), `skipped` the files of indexed nodes (compared by stat, else hash).
 */
export function diffWithIndex(expected: FileTree, skipped: readonly string[], index: CheckIndex, dir: string): IndexedDiff {
  const onDisk = listTree(dir);
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
    const now = statSig(path.join(dir, rel));
    if (sig && now && now.every((v, i) => v === sig[i])) continue;
    rehashed++;
    const have = readOrUndefined(path.join(dir, rel));
    if (!have || sha256(have) !== hash) changed.push(rel);
  }
  const removed = [...onDisk].filter((rel) => !wanted.has(rel));
  return { added: added.sort(), removed: removed.sort(), changed: changed.sort(), rehashed };
}

function readOrUndefined(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined; // unreadable, or a folder now: reported as changed
  }
}

/** Every file's path under `dir` (the marker aside), as readTree names them; nothing read. */
function listTree(dir: string): Set<string> {
  const out = new Set<string>();
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name), `${rel}${e.name}/`);
      else if (d === dir && e.name === MARKER) continue;
      else out.add(`${rel}${e.name}`);
    }
  };
  if (fs.existsSync(dir)) walk(dir, '');
  return out;
}
