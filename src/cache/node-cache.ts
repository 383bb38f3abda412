/**
 * The build cache: one node's rendered out/ files, stored under a key made of
 * every input that reaches them (src/cache/node-keys.ts), so that `mesh build`
 * renders only the nodes whose inputs changed (issue 20 item 4).
 *
 * Layout, in a folder that is safe to delete at any time (a missing or emptied
 * folder only makes the next build a cold one):
 *
 *   <dir>/CACHEDIR.TAG            tells backup tools to skip the folder
 *   <dir>/.gitignore              `*`: never committed, whatever repository it sits in
 *   <dir>/nodes/<k0k1>/<key>.node one entry per key (64 hex digits)
 *
 * An entry is MAGIC, the CRC-32 of the rest (8 hex digits and a newline), a
 * 4-byte header length, the header (JSON: key, node id, manifest entry, file
 * paths and offsets) and the files' bytes. Reading checks all of it: a torn,
 * truncated or edited entry, or one filed under another key, is a miss, is
 * removed and is rebuilt. CRC-32, not SHA-256: it catches every torn write
 * and bit flip, at a twentieth of the time over the 600 MB a 10,000-service
 * warm build reads; the key (SHA-256 of the inputs) is the content address,
 * and the folder is as trusted as the mesh sources beside it.
 *
 * Writes go to a temp file renamed into place, so concurrent builds only ever
 * see whole entries. Nothing outside `nodes/` is ever removed, and inside it
 * only names this module writes (entries, and temp files of builds gone).
 *
 * Bounded in size: after a build that stored entries, least recently used
 * entries are removed until the folder holds at most `maxBytes` (entries the
 * build used are kept even above it). The walk that finds them is skipped
 * while `<dir>/nodes.size` (the total after the last walk plus what builds stored
 * since) stays under the bound, for at most 64 builds in a row. Last use is the entry's mtime, refreshed
 * on a hit when older than an hour (a touch on every hit cost 10,000 syscalls
 * per warm build for no better order).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { containsKeyMaterial } from '../pki/fs-secure';
import { isRunning } from '../util/process';

/** One node's files as the compiler makes them (src/envoy/emit.ts): paths, their bytes packed, its manifest entry. */
export interface CachedNode {
  readonly id: string;
  readonly entryText: string;
  readonly paths: string[];
  /** Byte offset of each file in `bytes`, plus the end. */
  readonly offsets: number[];
  readonly bytes: Uint8Array;
}

export interface NodeCacheOptions {
  /** Upper bound of the entries' total size (default 2 GiB; MESH_CACHE_MAX_MB overrides). */
  readonly maxBytes?: number;
}

export interface NodeCacheStats {
  hits: number;
  misses: number;
  stored: number;
  /** Entries that failed their check (removed, rebuilt). */
  corrupt: number;
  /** Entries removed by pruning. */
  pruned: number;
}

const MAGIC = Buffer.from('HMS-NODE-CACHE 1\n', 'latin1');
const CRC_LEN = 9; // 8 hex digits and '\n'
const KEY = /^[0-9a-f]{64}$/;
const ENTRY = /^([0-9a-f]{64})\.node$/;
const TEMP = /^\.([0-9a-f]{64})\.node\.tmp-(\d+)-\d+$/;
const HOUR_MS = 3_600_000;
/** The size ledger (see prune), beside nodes/, and how many builds may trust it in a row. */
const LEDGER = 'nodes.size';
const LEDGER_BUILDS = 64;
const CACHEDIR_TAG = 'Signature: 8a477f597d28d172789f06886806bc55\n# Written by `mesh build` (HMS-SVC): its build cache, safe to delete.\n';

export const DEFAULT_MAX_BYTES = 2048 * 1024 * 1024;

export function defaultMaxBytes(): number {
  const mb = Number(process.env.MESH_CACHE_MAX_MB);
  return Number.isFinite(mb) && mb > 0 ? Math.floor(mb * 1024 * 1024) : DEFAULT_MAX_BYTES;
}

let tempSeq = 0;

export class NodeCache {
  readonly stats: NodeCacheStats = { hits: 0, misses: 0, stored: 0, corrupt: 0, pruned: 0 };
  /** Why the cache stopped being used in this build (an I/O error), if it did: the build goes on without it. */
  disabled: string | undefined;
  private readonly used = new Set<string>();
  private readonly maxBytes: number;
  private prepared = false;
  /** Bytes of the entries this build stored (the size ledger adds them up). */
  private storedBytes = 0;

  constructor(
    readonly dir: string,
    opts: NodeCacheOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? defaultMaxBytes();
  }

  /** The entry stored under `key`, checked; undefined when there is none, or it fails its check (then it is removed). */
  get(key: string): CachedNode | undefined {
    if (this.disabled !== undefined || !KEY.test(key)) return undefined;
    this.used.add(key);
    const file = this.entryFile(key);
    let bytes: Buffer;
    let mtimeMs: number;
    try {
      const fd = fs.openSync(file, 'r');
      try {
        const st = fs.fstatSync(fd);
        mtimeMs = st.mtimeMs;
        bytes = Buffer.allocUnsafe(st.size);
        let off = 0;
        while (off < bytes.length) {
          const n = fs.readSync(fd, bytes, off, bytes.length - off, off);
          if (n === 0) break;
          off += n;
        }
        if (off !== bytes.length) bytes = bytes.subarray(0, off);
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      this.stats.misses++;
      return undefined;
    }
    const node = decodeEntry(bytes, key);
    if (!node) {
      this.stats.corrupt++;
      this.stats.misses++;
      fs.rmSync(file, { force: true });
      return undefined;
    }
    if (Date.now() - mtimeMs > HOUR_MS) {
      const now = new Date();
      try {
        fs.utimesSync(file, now, now);
      } catch {
        // Only the pruning order suffers.
      }
    }
    this.stats.hits++;
    return node;
  }

  /** Stores `node` under `key` (atomically); an I/O error turns the cache off for the rest of the build. */
  put(key: string, node: CachedNode): void {
    if (this.disabled !== undefined || !KEY.test(key)) return;
    this.used.add(key);
    const bytes = encodeEntry(key, node);
    // Never: the compiler writes no key material (out/ is refused it, MESH090); the cache holds none either.
    if (containsKeyMaterial(bytes)) return;
    try {
      this.prepare();
      const file = this.entryFile(key);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const tmp = path.join(path.dirname(file), `.${key}.node.tmp-${process.pid}-${tempSeq++}`);
      fs.writeFileSync(tmp, bytes, { mode: 0o644 });
      fs.renameSync(tmp, file);
      this.stats.stored++;
      this.storedBytes += bytes.length;
    } catch (err) {
      this.disabled = `cannot write ${this.dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
    }
  }

  /**
   * After a build: when it stored entries, removes the least recently used
   * ones until the entries fit in maxBytes (never one this build used), and
   * temp files of builds that are gone.
   */
  prune(): void {
    if (this.stats.stored === 0 || this.disabled !== undefined) return;
    // The size ledger: an upper bound of the entries' total, kept by the builds that store entries. While
    // it stays under the bound, the folder is not walked (10,000 lstats for the 6 entries a --check
    // after a one-line change stores); every LEDGER_BUILDS builds it is walked anyway, which corrects
    // what concurrent builds' lost updates of the ledger (a race: last writer wins) left out.
    const ledger = this.readLedger();
    if (ledger && ledger.builds < LEDGER_BUILDS && ledger.bytes + this.storedBytes <= this.maxBytes) {
      this.writeLedger({ bytes: ledger.bytes + this.storedBytes, builds: ledger.builds + 1 });
      return;
    }
    const entries: Array<{ file: string; key: string; size: number; mtimeMs: number }> = [];
    const nodes = path.join(this.dir, 'nodes');
    let total = 0;
    for (const sub of safeList(nodes)) {
      if (!/^[0-9a-f]{2}$/.test(sub)) continue;
      const folder = path.join(nodes, sub);
      if (!isRealDir(folder)) continue; // a link put here leads elsewhere: nothing there is ours
      for (const name of safeList(folder)) {
        const file = path.join(folder, name);
        const temp = TEMP.exec(name);
        if (temp) {
          if (!isRunning(Number(temp[2]))) fs.rmSync(file, { force: true });
          continue;
        }
        const m = ENTRY.exec(name);
        if (!m) continue; // not ours: left alone
        try {
          const st = fs.lstatSync(file);
          if (!st.isFile()) continue;
          entries.push({ file, key: m[1]!, size: st.size, mtimeMs: st.mtimeMs });
          total += st.size;
        } catch {
          // Removed meanwhile by another build.
        }
      }
    }
    if (total <= this.maxBytes) {
      this.writeLedger({ bytes: total, builds: 0 });
      return;
    }
    // Oldest use first; ties by key so that two builds prune alike.
    entries.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.key < b.key ? -1 : 1));
    for (const e of entries) {
      if (total <= this.maxBytes) break;
      if (this.used.has(e.key)) continue;
      fs.rmSync(e.file, { force: true });
      total -= e.size;
      this.stats.pruned++;
    }
    this.writeLedger({ bytes: total, builds: 0 });
  }

  private ledgerFile(): string {
    return path.join(this.dir, LEDGER);
  }

  private readLedger(): { bytes: number; builds: number } | undefined {
    try {
      const v = JSON.parse(fs.readFileSync(this.ledgerFile(), 'utf8')) as { bytes?: unknown; builds?: unknown };
      return Number.isSafeInteger(v.bytes) && Number.isSafeInteger(v.builds) && (v.bytes as number) >= 0 && (v.builds as number) >= 0 ? { bytes: v.bytes as number, builds: v.builds as number } : undefined;
    } catch {
      return undefined; // none yet, or damaged: the folder is walked
    }
  }

  private writeLedger(v: { bytes: number; builds: number }): void {
    try {
      const tmp = `${this.ledgerFile()}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, `${JSON.stringify(v)}\n`);
      fs.renameSync(tmp, this.ledgerFile());
    } catch {
      // Only the next build walks the folder.
    }
  }

  private entryFile(key: string): string {
    return path.join(this.dir, 'nodes', key.slice(0, 2), `${key}.node`);
  }

  /** The folder and its two marker files, once per build. */
  private prepare(): void {
    if (this.prepared) return;
    prepareCacheDir(this.dir);
    this.prepared = true;
  }
}

/** The cache folder and its two marker files (backup tools skip it, git never commits it). */
export function prepareCacheDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of [
    ['.gitignore', '# The build cache of `mesh build`: safe to delete, never committed.\n*\n'],
    ['CACHEDIR.TAG', CACHEDIR_TAG],
  ] as const) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) fs.writeFileSync(file, text);
  }
}

function isRealDir(p: string): boolean {
  try {
    return fs.lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}

function safeList(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

export function encodeEntry(key: string, node: CachedNode): Buffer {
  const header = Buffer.from(JSON.stringify({ key, id: node.id, entryText: node.entryText, paths: node.paths, offsets: node.offsets }), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(header.length);
  const body = Buffer.concat([len, header, node.bytes]);
  const crc = Buffer.from(`${zlib.crc32(body).toString(16).padStart(8, '0')}\n`, 'latin1');
  return Buffer.concat([MAGIC, crc, body]);
}

/** The entry in `bytes` when it is whole and filed under `key`; undefined otherwise. */
export function decodeEntry(bytes: Buffer, key: string): CachedNode | undefined {
  const start = MAGIC.length + CRC_LEN;
  if (bytes.length < start + 4 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const body = bytes.subarray(start);
  if (bytes.subarray(MAGIC.length, start).toString('latin1') !== `${zlib.crc32(body).toString(16).padStart(8, '0')}\n`) return undefined;
  const headerLen = body.readUInt32BE(0);
  if (4 + headerLen > body.length) return undefined;
  let header: { key?: unknown; id?: unknown; entryText?: unknown; paths?: unknown; offsets?: unknown };
  try {
    header = JSON.parse(body.subarray(4, 4 + headerLen).toString('utf8')) as typeof header;
  } catch {
    return undefined;
  }
  const data = body.subarray(4 + headerLen);
  const { id, entryText, paths, offsets } = header;
  if (header.key !== key || typeof id !== 'string' || typeof entryText !== 'string') return undefined;
  if (!Array.isArray(paths) || !Array.isArray(offsets) || offsets.length !== paths.length + 1) return undefined;
  if (!paths.every((p) => typeof p === 'string') || offsets[0] !== 0 || offsets[offsets.length - 1] !== data.length) return undefined;
  for (let i = 1; i < offsets.length; i++) if (!(Number.isInteger(offsets[i]) && offsets[i] >= offsets[i - 1])) return undefined;
  return { id, entryText, paths: paths as string[], offsets: offsets as number[], bytes: data };
}
