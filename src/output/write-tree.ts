/**
 * Writing a generated file tree atomically, and comparing one with disk.
 * The tree is built in a temp folder beside the target and renamed into place,
 * so on any error the previous `out/` is untouched and a reader never sees a
 * half-written build.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../diag/errors';
import { containsKeyMaterial } from '../pki/fs-secure';

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

/** The PKI store (private keys) may not live inside the output folder. */
export function assertOutsideOutput(outDir: string, pkiDir: string): void {
  const rel = path.relative(path.resolve(outDir), path.resolve(pkiDir));
  if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) {
    throw new UserError('MESH091', `the PKI store ${pkiDir} is inside the build output ${outDir}; keys never go under out/: move pki_dir or choose another --out`);
  }
}

export function writeTreeAtomically(outDir: string, tree: FileTree): void {
  assertNoKeyMaterialInTree(tree);
  const target = path.resolve(outDir);
  const parent = path.dirname(target);
  try {
    fs.mkdirSync(parent, { recursive: true });
  } catch (err) {
    throw new UserError('MESH092', `cannot create ${parent}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const tmp = fs.mkdtempSync(path.join(parent, `.${path.basename(target)}.tmp-`));
  try {
    const made = new Set<string>();
    for (const [rel, text] of tree) {
      const file = path.join(tmp, rel);
      const folder = path.dirname(file);
      if (!made.has(folder)) {
        fs.mkdirSync(folder, { recursive: true });
        made.add(folder);
      }
      fs.writeFileSync(file, text);
    }
    swapInto(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (err instanceof UserError) throw err;
    throw new UserError('MESH092', `cannot write ${outDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** rename(2) cannot replace a non-empty directory: move the old one aside first, then drop it. */
function swapInto(tmp: string, target: string): void {
  if (!fs.existsSync(target)) {
    fs.renameSync(tmp, target);
    return;
  }
  const old = `${tmp}.old`;
  fs.renameSync(target, old);
  try {
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.renameSync(old, target); // put the previous build back
    throw err;
  }
  fs.rmSync(old, { recursive: true, force: true });
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
      else out.set(path.relative(dir, p).split(path.sep).join('/'), fs.readFileSync(p, 'utf8'));
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

/** What differs between the tree the sources produce and what is on disk (`--check`). */
export function diffTree(expected: FileTree, dir: string): TreeDiff {
  const actual = readTree(dir);
  const added = [...expected.keys()].filter((k) => !actual.has(k)).sort();
  const removed = [...actual.keys()].filter((k) => !expected.has(k)).sort();
  const same = (want: string | Uint8Array, have: string): boolean => (typeof want === 'string' ? want === have : asBuffer(want).equals(Buffer.from(have, 'utf8')));
  const changed = [...expected.keys()].filter((k) => actual.has(k) && !same(expected.get(k)!, actual.get(k)!)).sort();
  return { added, removed, changed };
}
