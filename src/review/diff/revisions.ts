/**
 * A mesh directory as it was at a git revision, copied into a temp folder.
 * The user's work tree, index and HEAD are never touched: the files come from
 * the object store (`git ls-tree` + `git cat-file --batch`), so a dirty tree
 * or a checkout in progress cannot change or be changed by `mesh diff`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../../diag/errors';

export interface MaterializedMesh {
  /** Where the files are; undefined when the revision has no such directory. */
  readonly dir?: string;
  /** The revision as the user wrote it, with the commit it resolved to. */
  readonly label: string;
  readonly cleanup: () => void;
}

const MAX_OUTPUT = 512 * 1024 * 1024;

/** Copies `meshDir` (relative to `cwd`) as of `rev` into a temp folder. */
export function materializeRevision(rev: string, meshDir: string, cwd = process.cwd()): MaterializedMesh {
  if (rev.startsWith('-')) throw new UserError('MESH110', `"${rev}" is not a revision (revisions never start with "-")`);
  const top = git(['rev-parse', '--show-toplevel'], cwd, `${cwd} is not inside a git repository`).toString('utf8').trim();
  const rel = repoRelative(top, path.resolve(cwd, meshDir));
  const commit = git(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], top, `unknown revision "${rev}"`).toString('utf8').trim();
  const blobs = listBlobs(top, commit, rel);
  const label = `${rev} (${commit.slice(0, 12)})`;
  if (blobs.length === 0) return { label, cleanup: () => undefined };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-diff-'));
  const dir = path.join(tmp, 'mesh');
  try {
    writeBlobs(top, blobs, rel, dir);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return { dir, label, cleanup: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}

interface Blob {
  readonly oid: string;
  /** Relative to the repository root, '/'-separated. */
  readonly file: string;
}

function listBlobs(top: string, commit: string, rel: string): Blob[] {
  const args = ['ls-tree', '-r', '-z', '--full-tree', commit, ...(rel ? ['--', rel] : [])];
  const out = git(args, top, `cannot list ${rel || '.'} at ${commit}`).toString('utf8');
  const blobs: Blob[] = [];
  for (const entry of out.split('\0')) {
    const m = /^(\d+) (\w+) ([0-9a-f]+)\t(.*)$/s.exec(entry);
    // Regular files only: symbolic links (120000) and submodules have no mesh content of their own.
    if (m && m[2] === 'blob' && (m[1] === '100644' || m[1] === '100755')) blobs.push({ oid: m[3], file: m[4] });
  }
  return blobs;
}

/** One `git cat-file --batch` for every file: `<oid> blob <size>\n<bytes>\n` per object. */
function writeBlobs(top: string, blobs: readonly Blob[], rel: string, dir: string): void {
  const out = git(['cat-file', '--batch'], top, 'cannot read objects', blobs.map((b) => b.oid).join('\n') + '\n');
  let at = 0;
  for (const blob of blobs) {
    const nl = out.indexOf(0x0a, at);
    const header = out.subarray(at, nl).toString('utf8').split(' ');
    if (header[0] !== blob.oid || header[1] !== 'blob') throw new UserError('MESH110', `git cat-file answered "${header.join(' ')}" for ${blob.file}`);
    const size = Number(header[2]);
    const inside = rel ? path.posix.relative(rel, blob.file) : blob.file;
    const target = path.join(dir, ...inside.split('/'));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, out.subarray(nl + 1, nl + 1 + size));
    at = nl + 1 + size + 1;
  }
}

function repoRelative(top: string, abs: string): string {
  const real = realpathOfExisting(abs);
  const rel = path.relative(fs.realpathSync(top), real).split(path.sep).join('/');
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new UserError('MESH110', `${abs} is outside the git repository ${top}`);
  return rel;
}

/** realpath of the deepest existing ancestor, plus the rest: the mesh dir may exist only in old revisions. */
function realpathOfExisting(p: string): string {
  if (fs.existsSync(p)) return fs.realpathSync(p);
  const parent = path.dirname(p);
  return parent === p ? p : path.join(realpathOfExisting(parent), path.basename(p));
}

function git(args: string[], cwd: string, what: string, input?: string): Buffer {
  const r = spawnSync('git', args, { cwd, input, maxBuffer: MAX_OUTPUT });
  if (r.error) throw new UserError('MESH110', `cannot run git: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}`);
  if (r.status !== 0) {
    const detail = r.stderr.toString('utf8').trim().split('\n')[0];
    throw new UserError('MESH110', detail ? `${what}: ${detail}` : what);
  }
  return r.stdout;
}
