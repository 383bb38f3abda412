/**
 * File-system helpers for key material: private folders (0700), private
 * files (0600) written atomically, whole folders swapped in by rename, and
 * the guards `mesh build` uses to keep keys out of its output.
 *
 * Modes are set with chmod/fchmod after creation because the mode passed to
 * open/mkdir is filtered by the process umask, which we do not control.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ioError, PkiCode, pkiError } from './errors';

export const DIR_MODE = 0o700;
export const KEY_MODE = 0o600;
/** Certificates are public, but they live in 0700 folders anyway. */
export const CERT_MODE = 0o644;

/** Temp names start with `.tmp-` (ignored by git, skipped by store listings). */
export const TEMP_PREFIX = '.tmp-';

/**
 * mkdir -p with 0700 on every folder it creates. Folders that already exist
 * keep their mode: `--dir` may name a folder the user owns for other reasons,
 * and the keys inside are protected by their own 0700 subfolders and 0600 files.
 */
export function ensurePrivateDir(dir: string): void {
  try {
    const created = fs.mkdirSync(dir, { recursive: true, mode: DIR_MODE });
    if (created === undefined) return;
    // `created` is the topmost new folder: fix the mode from `dir` up to it.
    for (let d = path.resolve(dir); ; d = path.dirname(d)) {
      fs.chmodSync(d, DIR_MODE);
      if (d === path.resolve(created) || d === path.dirname(d)) break;
    }
  } catch (err) {
    throw ioError('create folder', dir, err);
  }
}

export interface FileSpec {
  readonly name: string;
  readonly data: string;
  readonly mode: number;
}

/** Creates `file` exclusively with `mode`, writes it and fsyncs it: the bytes are on disk before any rename. */
export function writeNewFileSynced(file: string, data: string, mode: number): void {
  const fd = fs.openSync(file, 'wx', mode);
  try {
    fs.fchmodSync(fd, mode);
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Write-to-temp (same folder, final mode), fsync, rename: readers see the old file or the new one, never half. */
export function writeFileAtomic(file: string, data: string, mode: number): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `${TEMP_PREFIX}${path.basename(file)}-${crypto.randomBytes(6).toString('hex')}`);
  try {
    writeNewFileSynced(tmp, data, mode);
    fs.renameSync(tmp, file);
    fsyncDir(dir);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw ioError('write', file, err);
  }
}

/** A fresh 0700 temp folder beside the final one, holding `files`; removed again if anything fails. */
export function stageDir(parent: string, label: string, files: readonly FileSpec[]): string {
  let staged: string | undefined;
  try {
    staged = fs.mkdtempSync(path.join(parent, `${TEMP_PREFIX}${label}-`));
    fs.chmodSync(staged, DIR_MODE);
    for (const f of files) writeNewFileSynced(path.join(staged, f.name), f.data, f.mode);
    fsyncDir(staged);
    return staged;
  } catch (err) {
    if (staged) fs.rmSync(staged, { recursive: true, force: true });
    throw ioError('write into', parent, err);
  }
}

/**
 * Moves a staged folder to `target`. rename(2) cannot replace a non-empty
 * folder, so an existing target is first renamed aside, then removed: at
 * every instant `target` is either the complete old set, absent, or the
 * complete new set, never a mix of old key and new certificate.
 */
export function commitDir(staged: string, target: string): void {
  const parent = path.dirname(target);
  const retired = path.join(parent, `${TEMP_PREFIX}old-${path.basename(target)}-${crypto.randomBytes(6).toString('hex')}`);
  let movedAside = false;
  try {
    if (fs.existsSync(target)) {
      fs.renameSync(target, retired);
      movedAside = true;
    }
    fs.renameSync(staged, target);
    fsyncDir(parent);
  } catch (err) {
    if (movedAside && !fs.existsSync(target)) fs.renameSync(retired, target);
    fs.rmSync(staged, { recursive: true, force: true });
    throw ioError('replace', target, err);
  }
  if (movedAside) fs.rmSync(retired, { recursive: true, force: true });
}

/** Makes a rename durable. Some platforms cannot fsync a folder; that only weakens crash safety there. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM') throw err;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * True when `candidate` is `dir` itself or anything below it. Symbolic links
 * in the existing part of either path are resolved first, so `out/link -> ../pki`
 * and `pki/../out/x` are judged by where they really point.
 */
export function isPathInside(candidate: string, dir: string): boolean {
  const rel = path.relative(realpathOfExisting(dir), realpathOfExisting(candidate));
  return rel === '' || !(rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel));
}

/** realpath of the longest existing prefix, with the not-yet-existing rest appended. */
function realpathOfExisting(p: string): string {
  let head = path.resolve(p);
  const tail: string[] = [];
  while (!fs.existsSync(head)) {
    const parent = path.dirname(head);
    if (parent === head) break;
    tail.unshift(path.basename(head));
    head = parent;
  }
  try {
    return path.join(fs.realpathSync.native(head), ...tail);
  } catch {
    return path.join(head, ...tail);
  }
}

// The marker is assembled so that this source file itself never matches a repository scan for keys.
const KEY_WORDS = ['PRIVATE', 'KEY'].join(' ');
const PEM_KEY = new RegExp(`-----BEGIN (?:[A-Z0-9]+ )*${KEY_WORDS}-----`);
/**
 * A PEM that was base64-encoded whole (Envoy `inline_bytes`, Kubernetes
 * secrets) starts with the base64 of its header. Only the first floor(n/3)*4
 * characters of that encoding are fixed whatever follows, so match those.
 */
const BASE64_KEY_HEADERS = ['', 'RSA ', 'EC ', 'DSA ', 'ENCRYPTED ', 'OPENSSH '].map((t) => {
  const b64 = Buffer.from(`-----BEGIN ${t}${KEY_WORDS}-----`).toString('base64');
  return b64.slice(0, Math.floor(b64.length / 4) * 4 - 4);
});

/** A private key in PEM, or a whole PEM base64-encoded. Shared by the store scan and `mesh build`'s output gate. */
export function containsKeyMaterial(content: Buffer | string): boolean {
  const text = typeof content === 'string' ? content : content.toString('latin1');
  return PEM_KEY.test(text) || BASE64_KEY_HEADERS.some((h) => text.includes(h));
}

/**
 * Files under `dir` that contain a private key (PEM, or base64 of a PEM),
 * relative to `dir`, sorted. A missing `dir` has none. Symbolic links to files
 * are read (copying the tree would copy the key); links to folders are not
 * followed, so a link loop cannot hang the scan.
 */
export function findKeyMaterial(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const found: string[] = [];
  const walk = (folder: string): void => {
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(full);
      else if ((entry.isFile() || (entry.isSymbolicLink() && isFileTarget(full))) && containsKeyMaterial(fs.readFileSync(full))) {
        found.push(path.relative(dir, full));
      }
    }
  };
  try {
    if (fs.statSync(dir).isFile()) return containsKeyMaterial(fs.readFileSync(dir)) ? [path.basename(dir)] : [];
    walk(dir);
  } catch (err) {
    throw ioError('scan', dir, err);
  }
  return found.sort();
}

function isFileTarget(link: string): boolean {
  try {
    return fs.statSync(link).isFile();
  } catch {
    return false; // dangling link: nothing to copy
  }
}

/** For `mesh build`: fails (PKI014, exit 1) when `dir` holds any private key. */
export function assertNoKeyMaterial(dir: string): void {
  const files = findKeyMaterial(dir);
  if (files.length > 0) {
    throw pkiError(
      PkiCode.keyMaterialFound,
      `private key material found under ${dir}: ${files.join(', ')} (keys belong in the PKI store, never in build output)`,
      1,
    );
  }
}
