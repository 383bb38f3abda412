/**
 * The persisted lint cache of `mesh build` (issue 20 item 4): per source
 * file, what its parse and schema check said and, for a schema-valid
 * manifest, its model; for the policy file, each service's policies. A
 * --check after a one-line change at 10,000 services parsed, schema-checked
 * and modelled 10,000 files again in every fresh process (2.4 s of 8.7 s).
 *
 * Keyed by the SHA-256 of the file's bytes, the schema, the name the file is
 * shown under (positions carry it) and, for a manifest's model, the settings
 * it was built with (src/config/source-cache.ts's settingsKey); the whole
 * file is stamped with the compiler's fingerprint (dist/src and schemas/), so
 * a code change makes every entry a miss. A hit is exactly what the miss
 * would compute (test/cache/lint-cache.test.ts compares them). The
 * cross-service checks are never cached: they run on the whole model.
 *
 * One file, `<cache>/lint/lint.cache`, read in one piece: MAGIC, then
 * records, each a 4-byte length, the CRC-32 of its payload and the payload
 * (JSON: the fingerprint, a table of file names, and entries). A build that
 * computed new entries appends one record with them; when the file holds
 * more than twice the entries the last load used (or more than MAX_RECORDS
 * records), it is rewritten with only those, through a temp file renamed into
 * place. Reading stops at the first record that fails its check (torn by a
 * crash, edited): what follows is ignored and recomputed, the build warns
 * (MESH256) and the next save rewrites the file. Safe to delete.
 *
 * Positions are the bulk of a model (a manifest is 1.7 KB of JSON, most of it
 * `{file, line, col, endLine, endCol}`): they are stored as a short array
 * each, the file as an index in the record's table (see encodeValue).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { diagAt, type Diagnostic } from '../diag/diagnostic';
import type { ServiceManifest, ServicePolicies } from '../model/types';
import type { LintEntry, PersistedLintCache, PolicyDerived } from '../config/source-cache';
import { containsKeyMaterial } from '../pki/fs-secure';
import { compilerFingerprint } from './compiler-hash';

export interface LintCacheStats {
  hits: number;
  misses: number;
  /** Entries computed by this load and saved. */
  stored: number;
}

const MAGIC = Buffer.from('HMS-LINT-CACHE 1\n', 'latin1');
const MAX_RECORDS = 16;
/** A record's payload is at most this (a 10,000-service mesh writes about 10 MB). */
const MAX_RECORD_BYTES = 512 * 1024 * 1024;

interface RecordBody {
  readonly fp: string;
  readonly files: string[];
  /** [key, encoded entry] */
  readonly entries: Array<[string, unknown]>;
}

interface StoredEntry {
  /** The record's file table its positions index. */
  readonly files: readonly string[];
  readonly encoded: unknown;
}

export class LintCache implements PersistedLintCache {
  readonly stats: LintCacheStats = { hits: 0, misses: 0, stored: 0 };
  /** Why the file was not read whole (a record failed its check), if so. */
  damaged: string | undefined;
  /** Why the file could not be written, if so (the build is complete without it). */
  unwritable: string | undefined;
  private readonly stored = new Map<string, StoredEntry>();
  private readonly used = new Map<string, LintEntry>();
  private readonly fresh = new Map<string, LintEntry>();
  private records = 0;
  /** Records of another compiler's fingerprint the file holds. */
  private foreign = 0;

  private constructor(
    readonly file: string,
    private readonly fingerprint: string,
  ) {}

  /** The cache in `cacheDir` (a missing or damaged file is an empty cache). */
  static open(cacheDir: string, fingerprint = compilerFingerprint()): LintCache {
    const cache = new LintCache(path.join(cacheDir, 'lint', 'lint.cache'), fingerprint);
    cache.read();
    return cache;
  }

  get(key: string): LintEntry | undefined {
    const have = this.used.get(key) ?? this.fresh.get(key);
    if (have) return have;
    const s = this.stored.get(key);
    const entry = s ? decodeEntry(s) : undefined;
    if (!entry) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    this.used.set(key, entry);
    return entry;
  }

  /** Records what a miss computed (or what a load added to a hit: more services' policies). */
  set(key: string, entry: LintEntry): void {
    this.used.delete(key);
    this.fresh.set(key, entry);
  }

  /**
   * Saves what this load computed: appended as one record, or the file
   * rewritten with only what this load used when it holds much more.
   * Best effort: an error is kept in `unwritable` and the build goes on.
   */
  save(): void {
    if (!this.hasWork()) return;
    const rewrite = this.needsRewrite();
    try {
      let record: Buffer | undefined;
      try {
        record = encodeRecord(this.fingerprint, rewrite ? [...this.used, ...this.fresh] : [...this.fresh]);
      } catch {
        return; // a value the codec does not take (a bug, not the user's): no cache rather than a wrong one
      }
      // As node entries: the cache never holds key material (a key pasted into a manifest value, say).
      if (containsKeyMaterial(record)) return;
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      if (rewrite) {
        const tmp = `${this.file}.tmp-${process.pid}`;
        fs.writeFileSync(tmp, Buffer.concat([MAGIC, record]));
        fs.renameSync(tmp, this.file);
      } else {
        // One write of a whole record with O_APPEND: a concurrent build's record lands before or after it.
        fs.appendFileSync(this.file, record);
      }
      this.stats.stored = this.fresh.size;
    } catch (err) {
      this.unwritable = `cannot write ${this.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
    }
  }

  /** Whether save would write anything (nothing when the lint read no file: a missing mesh folder, say). */
  hasWork(): boolean {
    const live = this.used.size + this.fresh.size;
    return live > 0 && (this.fresh.size > 0 || this.needsRewrite());
  }

  private needsRewrite(): boolean {
    const live = this.used.size + this.fresh.size;
    return this.damaged !== undefined || this.records === 0 || this.foreign > 0 || this.records >= MAX_RECORDS || this.stored.size > 2 * live;
  }

  /** The warning a damaged file deserves (MESH256), if it was. */
  warnings(): Diagnostic[] {
    if (this.damaged === undefined) return [];
    return [diagAt({ file: this.file, line: 1, col: 1 }, 'warning', 'MESH256', `lint cache ${this.damaged}: the rest of it was ignored and those files linted again`, { hint: 'nothing to do: the file is rewritten by this build (it is safe to delete)' })];
  }

  private read(): void {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(this.file);
    } catch {
      return; // no cache yet (or an unreadable one: the save says so)
    }
    if (bytes.length < MAGIC.length || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
      this.damaged = 'is not a lint cache file';
      return;
    }
    let off = MAGIC.length;
    while (off < bytes.length) {
      const body = off + 8 <= bytes.length ? decodeRecord(bytes, off) : undefined;
      if (!body) {
        this.damaged = `record ${this.records + 1} failed its integrity check (torn or edited)`;
        return;
      }
      off = body.next;
      this.records++;
      // Another compiler's record (an earlier build of the code, another checkout): not ours to use,
      // and dead weight in every later read, so the next save rewrites the file without it.
      if (body.record.fp !== this.fingerprint) {
        this.foreign++;
        continue;
      }
      for (const [key, encoded] of body.record.entries) this.stored.set(key, { files: body.record.files, encoded });
    }
  }
}

function encodeRecord(fp: string, entries: ReadonlyArray<[string, LintEntry]>): Buffer {
  const files: string[] = [];
  const fileIndex = new Map<string, number>();
  const out: Array<[string, unknown]> = [];
  for (const [key, e] of entries) {
    const v = { d: e.diagnostics, ok: e.valid, ...(e.manifest ? { m: e.manifest } : {}), ...(e.policies ? { p: [...e.policies] } : {}), ...(e.derived ? { x: e.derived } : {}) };
    out.push([key, encodeValue(v, files, fileIndex)]);
  }
  const payload = Buffer.from(JSON.stringify({ fp, files, entries: out } satisfies RecordBody), 'utf8');
  const head = Buffer.alloc(8);
  head.writeUInt32BE(payload.length, 0);
  head.writeUInt32BE(zlib.crc32(payload), 4);
  return Buffer.concat([head, payload]);
}

function decodeRecord(bytes: Buffer, off: number): { record: RecordBody; next: number } | undefined {
  const len = bytes.readUInt32BE(off);
  const crc = bytes.readUInt32BE(off + 4);
  if (len > MAX_RECORD_BYTES || off + 8 + len > bytes.length) return undefined;
  const payload = bytes.subarray(off + 8, off + 8 + len);
  if (zlib.crc32(payload) !== crc) return undefined;
  let record: RecordBody;
  try {
    record = JSON.parse(payload.toString('utf8')) as RecordBody;
  } catch {
    return undefined;
  }
  if (record === null || typeof record !== 'object' || typeof record.fp !== 'string' || !Array.isArray(record.files) || !Array.isArray(record.entries)) return undefined;
  return { record, next: off + 8 + len };
}

function decodeEntry(s: StoredEntry): LintEntry | undefined {
  let v: { d?: unknown; ok?: unknown; m?: unknown; p?: unknown; x?: unknown };
  try {
    // In place: each stored entry is decoded once (get keeps what it decoded).
    v = decodeValue(s.encoded, s.files) as typeof v;
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object' || !Array.isArray(v.d) || typeof v.ok !== 'boolean') return undefined;
  if ((v.p !== undefined && !Array.isArray(v.p)) || (v.x !== undefined && (v.x === null || typeof v.x !== 'object'))) return undefined;
  return {
    diagnostics: v.d as Diagnostic[],
    valid: v.ok,
    ...(v.m !== undefined ? { manifest: v.m as ServiceManifest } : {}),
    ...(v.p !== undefined ? { policies: new Map(v.p as Array<[string, ServicePolicies]>) } : {}),
    ...(v.x !== undefined ? { derived: v.x as PolicyDerived } : {}),
  };
}

/** Thrown for a value JSON would not give back as it was (the entry is then not saved). */
class Unencodable extends Error {}

const POS = '\u0001';
const ESCAPED = '\u0002';
const UNDEFINED = '\u0003';

/**
 * JSON with three changes, so that the decoded value is deep-equal to the
 * encoded one, key order included: a position (an object with exactly the
 * keys file, line, col and optionally endLine, endCol, in that order) is the
 * array [POS, f, line, col(, endLine, endCol)] with f its file's index in
 * `files` (a real array never starts with the string POS: it would be
 * escaped); `undefined` (kept in objects and arrays) is UNDEFINED; a string
 * that starts with one of these characters gets ESCAPED in front. Anything
 * JSON would change (a Map, a class instance, NaN, -0) throws Unencodable.
 */
export function encodeValue(v: unknown, files: string[], fileIndex: Map<string, number>): unknown {
  if (v === undefined) return UNDEFINED;
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'string') return v.length > 0 && v.charCodeAt(0) <= 3 && v.charCodeAt(0) >= 1 ? ESCAPED + v : v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || Object.is(v, -0)) throw new Unencodable();
    return v;
  }
  if (Array.isArray(v)) return v.map((x) => encodeValue(x, files, fileIndex));
  if (typeof v !== 'object' || Object.getPrototypeOf(v) !== Object.prototype) throw new Unencodable();
  const o = v as Record<string, unknown>;
  const pos = positionOf(o, files, fileIndex);
  if (pos !== undefined) return pos;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    // Assigning it would set the prototype instead of a key, here and when decoding.
    if (k === '__proto__') throw new Unencodable();
    out[k] = encodeValue(o[k], files, fileIndex);
  }
  return out;
}

function positionOf(o: Record<string, unknown>, files: string[], fileIndex: Map<string, number>): unknown[] | undefined {
  const keys = Object.keys(o);
  if (keys.length !== 3 && keys.length !== 5) return undefined;
  if (keys[0] !== 'file' || keys[1] !== 'line' || keys[2] !== 'col' || typeof o.file !== 'string') return undefined;
  if (keys.length === 5 && (keys[3] !== 'endLine' || keys[4] !== 'endCol')) return undefined;
  const nums = keys.slice(1).map((k) => o[k]);
  if (!nums.every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)) return undefined;
  let f = fileIndex.get(o.file);
  if (f === undefined) {
    fileIndex.set(o.file, (f = files.length));
    files.push(o.file);
  }
  return [POS, f, ...nums];
}

/** encodeValue's inverse, in place (the value is a fresh JSON.parse result). */
export function decodeValue(v: unknown, files: readonly string[]): unknown {
  if (typeof v === 'string') {
    if (v.length === 0) return v;
    const c = v.charCodeAt(0);
    if (c === 2) return v.slice(1);
    if (c === 3) return undefined;
    if (c === 1) throw new Unencodable(); // only a position's tag, which sits in an array
    return v;
  }
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    if (v[0] === POS) return decodePosition(v, files);
    for (let i = 0; i < v.length; i++) v[i] = decodeValue(v[i], files);
    return v;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k === '__proto__') throw new Unencodable();
    o[k] = decodeValue(o[k], files);
  }
  return o;
}

function decodePosition(n: unknown[], files: readonly string[]): unknown {
  const file = files[n[1] as number];
  if (typeof file !== 'string' || (n.length !== 4 && n.length !== 6)) throw new Unencodable();
  for (let i = 1; i < n.length; i++) if (!Number.isSafeInteger(n[i])) throw new Unencodable();
  const [, , line, col, endLine, endCol] = n as number[];
  return n.length === 4 ? { file, line, col } : { file, line, col, endLine, endCol };
}
