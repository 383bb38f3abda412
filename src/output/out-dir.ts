/**
 * Which folder `mesh build` may replace, and how it replaces it.
 *
 * A build replaces its output folder whole, so the folder must be one a
 * build wrote: every build output carries a marker file (MARKER), and any
 * other path (a folder of someone's files, a regular file, a link, the mesh
 * sources, the PKI store) is refused before anything is touched. `--force`
 * lets a build take an empty folder that has no marker, nothing more.
 *
 * The new tree is written into a temp folder beside the target and swapped in.
 * On Linux the swap is one renameat2(RENAME_EXCHANGE): at every instant the
 * output path holds the old tree or the new one. Node has no binding for it,
 * so it goes through python3's ctypes when python3 is here (about 30 ms).
 * Elsewhere the swap is two renames with a short window in which the path is
 * missing; a build killed inside that window leaves the old tree beside the
 * path, and the next build puts it back before doing anything else.
 * Temp folders carry the builder's pid in their name: the next build of the
 * same output removes those whose builder is gone (a `kill -9` mid-build).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../diag/errors';
import { isInside } from '../util/path-inside';
import { isRunning } from '../util/process';

/** Written into every build output; its presence is what lets a later build replace the folder. */
export const MARKER = '.mesh-build';
const MARKER_HEAD = '# Written by `mesh build` (HMS-SVC).';
export const MARKER_TEXT = `${MARKER_HEAD}\n# The next mesh build replaces this whole folder: keep nothing else here.\n`;

/** Paths the output may not equal, sit inside, or contain. */
export interface Protected {
  readonly path: string;
  /** How the error names it: "the PKI store", "the mesh directory"... */
  readonly what: string;
  readonly code: string;
}

export interface OutOptions {
  /** Replace an empty folder that no build wrote. */
  readonly force?: boolean;
  readonly protect?: readonly Protected[];
}

/** Resolves symlinks of the longest existing prefix, so that two spellings of one place compare equal. */
function realish(p: string): string {
  const abs = path.resolve(p);
  const tail: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      return path.join(fs.realpathSync(cur), ...tail.reverse());
    } catch {
      const up = path.dirname(cur);
      if (up === cur) return abs;
      tail.push(path.basename(cur));
      cur = up;
    }
  }
}

/** Whether one of the two paths is, holds or sits inside the other (real paths, as assertReplaceable compares them). */
export function overlaps(a: string, b: string): boolean {
  const x = realish(a);
  const y = realish(b);
  return isInside(x, y) || isInside(y, x);
}

/** Throws (coded, naming the path, nothing touched) unless `outDir` is a folder a build may replace or create. */
export function assertReplaceable(outDir: string, opts: OutOptions = {}): void {
  const out = realish(outDir);
  for (const p of opts.protect ?? []) {
    const other = realish(p.path);
    if (isInside(out, other) || isInside(other, out)) {
      const how = out === other ? 'is' : isInside(out, other) ? 'is inside' : 'contains';
      throw new UserError(p.code, `--out ${outDir} ${how} ${p.what} (${p.path}); a build replaces its whole output folder: choose an --out apart from it`);
    }
  }
  let st: fs.Stats;
  try {
    st = fs.lstatSync(outDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new UserError('MESH092', `cannot inspect --out ${outDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const refuse = (why: string, hint: string): never => {
    throw new UserError('MESH089', `--out ${outDir} ${why}; mesh build only replaces a folder an earlier mesh build wrote (it holds ${MARKER}). ${hint}`);
  };
  if (st.isSymbolicLink()) refuse('is a symbolic link', 'Point --out at a real folder.');
  if (!st.isDirectory()) refuse('is not a folder', 'Choose another --out.');
  if (isBuildOutput(outDir)) return;
  const entries = fs.readdirSync(outDir);
  if (entries.length === 0) {
    if (opts.force) return;
    refuse('is an empty folder no build wrote', 'Pass --force to build into it, or name a path that does not exist yet.');
  }
  refuse(`is a folder no build wrote (${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}, no ${MARKER})`, 'Choose another --out; if it is the output of an older mesh build (before the marker), remove it yourself once.');
}

export function isBuildOutput(dir: string): boolean {
  try {
    const file = path.join(dir, MARKER);
    if (!fs.lstatSync(file).isFile()) return false;
    const fd = fs.openSync(file, 'r');
    try {
      const head = Buffer.alloc(MARKER_HEAD.length);
      return fs.readSync(fd, head, 0, head.length, 0) === head.length && head.toString('utf8') === MARKER_HEAD;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}

const TEMP = /^\.(.+)\.mesh-(tmp|old)-(\d+)-[A-Za-z0-9]{6}$/;

/** A fresh temp folder beside `target`, named so that a later build can tell it is stale. */
export function makeTemp(target: string): string {
  return fs.mkdtempSync(path.join(path.dirname(target), `.${path.basename(target)}.mesh-tmp-${process.pid}-`));
}

/**
 * Before a build of `target`: a previous tree left aside by a build killed
 * between its two renames goes back to `target`; temp folders of builds that
 * are gone are removed. Folders of builds still running are left alone.
 * Returns what was done (for tests and the build's summary).
 */
export function recoverStale(target: string): { removed: string[]; restored?: string } {
  const parent = path.dirname(target);
  const base = path.basename(target);
  const removed: string[] = [];
  let restored: string | undefined;
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return { removed };
  }
  for (const name of names.sort()) {
    const m = TEMP.exec(name);
    if (!m || m[1] !== base || isRunning(Number(m[3]))) continue;
    const p = path.join(parent, name);
    try {
      if (!fs.lstatSync(p).isDirectory()) continue;
      if (m[2] === 'old' && !fs.existsSync(target) && isBuildOutput(p)) {
        fs.renameSync(p, target);
        restored = p;
        continue;
      }
      fs.rmSync(p, { recursive: true, force: true });
      removed.push(p);
    } catch {
      // Someone else's race or permissions: leave it; it is only disk space.
    }
  }
  return { removed, ...(restored ? { restored } : {}) };
}

const EXCHANGE_PY = [
  'import ctypes, os, sys',
  'libc = ctypes.CDLL(None, use_errno=True)',
  "f = getattr(libc, 'renameat2', None)",
  'if f is None: sys.exit(3)',
  'if f(-100, os.fsencode(sys.argv[1]), -100, os.fsencode(sys.argv[2]), 2) != 0: sys.exit(4)',
].join('\n');

/** renameat2(a, b, RENAME_EXCHANGE); false when this system cannot (no python3, no syscall, other filesystem). */
function exchange(a: string, b: string): boolean {
  if (process.platform !== 'linux' || process.env.MESH_SWAP === 'rename') return false;
  const r = spawnSync('python3', ['-c', EXCHANGE_PY, a, b], { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}

/** How the last swap went (tests check that the atomic path was taken where it can be). */
export let lastSwap: 'new' | 'exchange' | 'rename' = 'new';

/** Puts the tree at `tmp` at `target`, then removes the tree that was there. */
export function swapInto(tmp: string, target: string): void {
  if (!fs.existsSync(target)) {
    fs.renameSync(tmp, target);
    lastSwap = 'new';
    return;
  }
  const newIno = fs.statSync(tmp).ino;
  const swapped = exchange(tmp, target);
  // The helper may have exchanged and then died: the inode at target tells.
  if (swapped || fs.statSync(target).ino === newIno) {
    lastSwap = 'exchange';
    fs.rmSync(tmp, { recursive: true, force: true });
    return;
  }
  lastSwap = 'rename';
  const old = tmp.replace(/\.mesh-tmp-/, '.mesh-old-');
  fs.renameSync(target, old);
  try {
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.renameSync(old, target); // put the previous build back
    throw err;
  }
  fs.rmSync(old, { recursive: true, force: true });
}
