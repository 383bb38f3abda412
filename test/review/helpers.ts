/** Shared by the review tool tests: the CLI as a child process, temp git repositories, loading an example. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PACKAGE_ROOT, EXAMPLES_DIR } from '../../src/paths';
import { loadForReview, type ReviewInput } from '../../src/review/load';

const MESH = path.join(PACKAGE_ROOT, 'bin', 'mesh.js');

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function mesh(args: readonly string[], cwd = PACKAGE_ROOT): Run {
  const r = spawnSync(process.execPath, [MESH, ...args], { cwd, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A temp git repository with one identity configured; `t.after` removes it. */
export function gitRepo(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-review-git-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.email', 'review@hms-svc.invalid');
  git(dir, 'config', 'user.name', 'review test');
  git(dir, 'config', 'commit.gpgsign', 'false');
  return dir;
}

export function commitAll(repo: string, message: string): void {
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', message);
}

/** Replaces `from` by `to` in a file, failing loudly when `from` is absent (a silent no-op would make tests pass). */
export function edit(file: string, from: string | RegExp, to: string): void {
  const text = fs.readFileSync(file, 'utf8');
  const next = text.replace(from, to);
  if (next === text) throw new Error(`edit: ${String(from)} not found in ${file}`);
  fs.writeFileSync(file, next);
}

export function copyDir(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
}

export function example(name: string): ReviewInput {
  const loaded = loadForReview(path.join(EXAMPLES_DIR, name), { displayDir: `examples/${name}` });
  if (!loaded.ok) throw new Error(`examples/${name} does not load: ${JSON.stringify(loaded.diagnostics)}`);
  return loaded.input;
}

export function fixture(name: string): ReviewInput {
  const loaded = loadForReview(path.join(PACKAGE_ROOT, 'test', 'fixtures', name), { displayDir: `test/fixtures/${name}`, allowSemanticErrors: true });
  if (!loaded.ok) throw new Error(`fixture ${name} does not load: ${JSON.stringify(loaded.diagnostics)}`);
  return loaded.input;
}
