/**
 * Golden folders: a compiled file tree compared against a committed folder,
 * file by file. `UPDATE_GOLDEN=1` rewrites the folder instead (adding,
 * changing and deleting files), so a behaviour change shows up as a reviewable
 * diff of test/golden/<case>/.
 *
 * Goldens live in the source tree (not dist/), found from the package root.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths';

export const GOLDEN_ROOT = path.join(PACKAGE_ROOT, 'test', 'golden');

export function updatingGoldens(): boolean {
  return process.env.UPDATE_GOLDEN === '1';
}

/** Every file under dir, as '/'-separated relative paths, sorted. */
export function readTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(child);
      else out.set(child, fs.readFileSync(path.join(dir, child), 'utf8'));
    }
  };
  if (fs.existsSync(dir)) walk('');
  return new Map([...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Asserts `tree` equals the golden folder `test/golden/<name>`, or rewrites it under UPDATE_GOLDEN=1. */
export function assertGoldenTree(name: string, tree: ReadonlyMap<string, string>): void {
  const dir = path.join(GOLDEN_ROOT, name);
  if (updatingGoldens()) {
    writeTree(dir, tree);
    return;
  }
  const golden = readTree(dir);
  assert.ok(golden.size > 0, `no golden at ${dir}: run the tests with UPDATE_GOLDEN=1 and review the new files`);
  assert.deepEqual([...tree.keys()], [...golden.keys()], `file list differs from ${dir} (UPDATE_GOLDEN=1 rewrites it)`);
  for (const [file, text] of tree) {
    assert.equal(text, golden.get(file), `${name}/${file} differs from the golden (UPDATE_GOLDEN=1 rewrites it)`);
  }
}

function writeTree(dir: string, tree: ReadonlyMap<string, string>): void {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [file, text] of tree) {
    const target = path.join(dir, ...file.split('/'));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, text);
  }
}
