/**
 * Writing a generated file tree atomically, and comparing one with disk.
 * The tree is built in a temp folder beside the target and swapped into place
 * (src/output/out-dir.ts), so on any error the previous `out/` is untouched
 * and a reader never sees a half-written build.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../diag/errors';
import { containsKeyMaterial } from '../pki/fs-secure';
import { assertReplaceable, isBuildOutput, makeTemp, MARKER, MARKER_TEXT, recoverStale, swapInto, type OutOptions, type Protected } from './out-dir';

/** Path (relative, '/'-separated) -> content: text, or UTF-8 bytes (src/envoy/emit.ts). */
export type FileTree = ReadonlyMap<string, string | Uint8Array>;

function asBuffer(content: string | Uint8Array): Buffer {
  return typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
}

/** Key material must never reach the build output (it is reviewed and committed): same test as the PKI store scan. */
export function assertNoKeyMaterialInTree(tree: FileTree): void {
  for (const [rel, text] of tree) {
    if (containsKeyMaterial(typeof text === 'string' ? text : asBuffer(text))) throw new UserError('MESH090', `refusing to write ${rel}: it contains private key material, which never goes under the build output`);
  }
}

/**
 * What a build output may not overlap, in either direction: the PKI store
 * (private keys) and the mesh sources. An output inside the mesh directory
 * (the usual `./out`) is fine; one that is or holds services/ is not.
 */
export function meshProtection(meshDir: string, pkiDir: string): Protected[] {
  const src = (rel: string): Protected => ({ path: path.join(meshDir, rel), what: `the mesh sources (${rel})`, code: 'MESH088' });
  return [src('services'), src('mesh_policies.yml'), src('mesh.yml'), { path: pkiDir, what: 'the PKI store', code: 'MESH091' }];
}

export interface WriteOptions extends OutOptions {
  /** Told about stale temp folders removed and a previous tree put back. */
  readonly onRecover?: (note: string) => void;
}

/**
 * Writes `tree` at `outDir`, replacing what a previous build wrote there. The
 * checks of src/output/out-dir.ts run first: a path a build may not replace is
 * refused before anything is created or removed.
 */
export function writeTreeAtomically(outDir: string, tree: FileTree, opts: WriteOptions = {}): void {
  assertNoKeyMaterialInTree(tree);
  if (tree.has(MARKER)) throw new Error(`bug: the tree carries ${MARKER} itself`);
  const target = path.resolve(outDir);
  const parent = path.dirname(target);
  try {
    fs.mkdirSync(parent, { recursive: true });
  } catch (err) {
    throw new UserError('MESH092', `cannot create ${parent}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const recovered = recoverStale(target);
  if (recovered.restored) opts.onRecover?.(`put back the previous build output from ${path.basename(recovered.restored)} (a build was stopped mid-swap)`);
  if (recovered.removed.length > 0) opts.onRecover?.(`removed ${recovered.removed.length} temp folder(s) of earlier builds that did not finish`);
  assertReplaceable(outDir, opts);
  let tmp: string;
  try {
    tmp = makeTemp(target);
  } catch (err) {
    throw new UserError('MESH092', `cannot write beside ${outDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    // The marker first: a temp folder left by a kill is recognisable as ours.
    fs.writeFileSync(path.join(tmp, MARKER), MARKER_TEXT);
    const reuse = isBuildOutput(target) ? { from: target, mode: fs.statSync(path.join(tmp, MARKER)).mode } : undefined;
    const made = new Set<string>();
    for (const [rel, text] of tree) {
      const file = path.join(tmp, rel);
      const folder = path.dirname(file);
      if (!made.has(folder)) {
        fs.mkdirSync(folder, { recursive: true });
        made.add(folder);
      }
      if (reuse && linkIfSame(path.join(reuse.from, rel), file, text, reuse.mode)) continue;
      fs.writeFileSync(file, text);
    }
    swapInto(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (err instanceof UserError) throw err;
    throw new UserError('MESH092', `cannot write ${outDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/**
 * Puts the previous build's file at `file` by a hard link when it holds
 * exactly `content` (read back and compared) and nothing else links to it:
 * a 10,000-service build that changes a few nodes links 60,000 files instead
 * of writing 600 MB, in a quarter of the time. The previous tree is removed
 * after the swap, so the new tree's files are linked nowhere else. A file
 * edited by hand, linked elsewhere (nlink > 1) or of another mode is written.
 */
function linkIfSame(previous: string, file: string, content: string | Uint8Array, mode: number): boolean {
  try {
    const st = fs.lstatSync(previous);
    const want = asBuffer(content);
    if (!st.isFile() || st.nlink !== 1 || st.mode !== mode || st.size !== want.length) return false;
    if (!fs.readFileSync(previous).equals(want)) return false;
    fs.linkSync(previous, file);
    return true;
  } catch {
    return false; // not there, unreadable, or no hard links here: written instead
  }
}

export interface TreeDiff {
  readonly added: string[];
  readonly removed: string[];
  readonly changed: string[];
}

export function readTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (d === dir && e.name === MARKER) continue; // not part of the tree: written by writeTreeAtomically
      else out.set(path.relative(dir, p).split(path.sep).join('/'), fs.readFileSync(p, 'utf8'));
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

/** What differs between the tree the sources produce and what is on disk (`--check`). */
export function diffTree(expected: FileTree, dir: string): TreeDiff {
  // Compared as bytes: decoding 600 MB of a 10,000-service out/ to strings was most of a --check.
  const actual = readTreeBytes(dir);
  const added = [...expected.keys()].filter((k) => !actual.has(k)).sort();
  const removed = [...actual.keys()].filter((k) => !expected.has(k)).sort();
  const changed = [...expected.keys()].filter((k) => actual.has(k) && !asBuffer(expected.get(k)!).equals(actual.get(k)!)).sort();
  return { added, removed, changed };
}

function readTreeBytes(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p, `${rel}${e.name}/`);
      else if (d === dir && e.name === MARKER) continue; // not part of the tree: written by writeTreeAtomically
      else out.set(`${rel}${e.name}`, fs.readFileSync(p));
    }
  };
  if (fs.existsSync(dir)) walk(dir, '');
  return out;
}

/**
 * `--check`'s report: undefined when `dir` matches, else the files that differ
 * under a line naming `rebuild`, the command that rewrites them (with every
 * flag that shaped the tree, or running it would not fix what was found).
 */
export function staleReport(expected: FileTree, dir: string, sources: string, rebuild: string, diff?: TreeDiff): string | undefined {
  const d = diff ?? diffTree(expected, dir);
  const lines = [...d.added.map((f) => `missing: ${f}`), ...d.removed.map((f) => `stale:   ${f}`), ...d.changed.map((f) => `changed: ${f}`)];
  if (lines.length === 0) return undefined;
  return `${dir} is out of date with ${sources} (run: ${rebuild}):\n${lines.map((l) => `  ${l}\n`).join('')}`;
}
