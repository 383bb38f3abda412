/**
 * The check index (src/cache/check-index.ts): `mesh build --check` with it
 * gives the verdict of the full compare (`--check --no-cache`, which reads
 * every file) after each kind of change to out/ or to the index: a hand edit
 * that keeps size and mtime, a touch, a deleted file, an extra file, a
 * damaged index, a one-line source change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { PACKAGE_ROOT } from '../../src/paths';
import { checkIndexFile } from '../../src/cache/check-index';
import { tempDir } from '../helpers/mesh-dir';

const MESH = path.join(PACKAGE_ROOT, 'bin', 'mesh.js');
const EXAMPLE = path.join(PACKAGE_ROOT, 'examples', 'agency');

function mesh(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MESH, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A node's files: the first node folder of out/ (sorted), and its clusters.json. */
function aNodeFile(out: string): string {
  const node = fs
    .readdirSync(out, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()[0]!;
  const file = fs.readdirSync(path.join(out, node)).sort()[0]!;
  return `${node}/${file}`;
}

test('mesh build --check with the check index gives the full compare’s verdict after every kind of change', async () => {
  const tmp = tempDir('hms-check-index-');
  try {
    const dir = path.join(tmp.dir, 'mesh');
    fs.mkdirSync(dir);
    for (const f of ['mesh.yml', 'mesh_policies.yml', 'services']) fs.cpSync(path.join(EXAMPLE, f), path.join(dir, f), { recursive: true });
    const out = path.join(tmp.dir, 'out');
    const cacheDir = path.join(dir, '.mesh-cache');
    const index = checkIndexFile(cacheDir, out);
    const build = mesh(['build', dir, '--out', out]);
    assert.equal(build.code, 0, build.stderr);
    assert.ok(fs.existsSync(index), 'the build writes the check index into the cache folder');
    assert.equal(fs.existsSync(path.join(out, path.basename(index))), false);

    /** Both verdicts; asserts they agree and returns them. */
    const verdict = (what: string): { code: number; stdout: string; stderr: string } => {
      const fast = mesh(['build', dir, '--out', out, '--check']);
      const full = mesh(['build', dir, '--out', out, '--check', '--no-cache']);
      assert.equal(fast.code, full.code, `${what}: exit codes differ\nfast: ${fast.stdout}${fast.stderr}\nfull: ${full.stdout}${full.stderr}`);
      assert.equal(fast.stdout, full.stdout, `${what}: reports differ`);
      assert.ok(fast.code === 0 || fast.code === 1, `${what}: ${fast.stderr}`);
      return fast;
    };

    // The file the edits below touch gets a whole-second mtime (exactly restorable by utimes, which takes
    // no nanoseconds), so that a hand edit with the mtime put back differs from the record in ctime only.
    const rel = aNodeFile(out);
    const file = path.join(out, rel);
    const wholeSecond = new Date((Math.floor(Date.now() / 1000) - 60) * 1000);
    fs.utimesSync(file, wholeSecond, wholeSecond);

    // Files written within the index write's clock tick are recorded without a stat signature (racy);
    // a --check after the tick records them (as git status refreshes git's index), the next one stats.
    await delay(250);
    assert.equal(verdict('after the build').code, 0);
    const refreshed = JSON.parse(fs.readFileSync(index, 'utf8').split('\n').slice(2).join('\n')) as { files: Record<string, [string, unknown]>; dirs: Record<string, unknown> };
    assert.ok(Object.values(refreshed.files).every(([, sig]) => typeof sig === 'string'), 'every file now has a stat signature');
    assert.ok(Object.keys(refreshed.dirs).length > 1 && Object.values(refreshed.dirs).every((sig) => typeof sig === 'string'), 'and every folder');
    const unchanged = verdict('unchanged');
    assert.equal(unchanged.code, 0);
    assert.match(unchanged.stderr, /files compared by the check index/);

    const original = fs.readFileSync(file);
    const [atime, mtime] = [wholeSecond, wholeSecond];

    // A hand edit keeping the size, the inode and the mtime: only ctime tells.
    const edited = Buffer.from(original);
    const at = edited.indexOf('"', 0);
    edited[at] = "'".charCodeAt(0);
    fs.writeFileSync(file, edited);
    fs.utimesSync(file, atime, mtime);
    const handEdit = verdict('hand edit keeping size and mtime');
    assert.equal(handEdit.code, 1);
    assert.match(handEdit.stdout, new RegExp(`changed: ${rel}`));

    // Put back (same bytes, new ctime): up to date again; then a touch changes nothing.
    fs.writeFileSync(file, original);
    assert.equal(verdict('restored').code, 0);
    await delay(20);
    const later = new Date(Date.now() + 5_000);
    fs.utimesSync(file, later, later);
    assert.equal(verdict('touch').code, 0);

    // A deleted file and an extra file are reported as today.
    fs.rmSync(file);
    assert.match(verdict('deleted').stdout, new RegExp(`missing: ${rel}`));
    fs.writeFileSync(file, original);
    fs.writeFileSync(path.join(out, path.dirname(rel), 'extra.json'), '{}\n');
    assert.match(verdict('extra file').stdout, new RegExp(`stale: + ${path.dirname(rel)}/extra\\.json`));
    fs.rmSync(path.join(out, path.dirname(rel), 'extra.json'));
    assert.equal(verdict('extra removed').code, 0);
    // Folders are listed only when their stat changed: an extra file with the folder's mtime put back
    // (ctime tells), one at the top of out/, one in a new sub-folder.
    const nodeDir = path.join(out, path.dirname(rel));
    const dirTimes = fs.statSync(nodeDir);
    fs.writeFileSync(path.join(nodeDir, 'sneaky.json'), '{}\n');
    fs.utimesSync(nodeDir, dirTimes.atime, dirTimes.mtime);
    assert.match(verdict('extra file, folder mtime put back').stdout, new RegExp(`stale: + ${path.dirname(rel)}/sneaky\\.json`));
    fs.rmSync(path.join(nodeDir, 'sneaky.json'));
    fs.writeFileSync(path.join(out, 'top.json'), '{}\n');
    assert.match(verdict('extra file at the top').stdout, /stale: +top\.json/);
    fs.rmSync(path.join(out, 'top.json'));
    fs.mkdirSync(path.join(nodeDir, 'sub'));
    fs.writeFileSync(path.join(nodeDir, 'sub', 'deep.json'), '{}\n');
    assert.match(verdict('extra file in a new sub-folder').stdout, new RegExp(`stale: + ${path.dirname(rel)}/sub/deep\\.json`));
    fs.rmSync(path.join(nodeDir, 'sub'), { recursive: true });
    assert.equal(verdict('extras removed').code, 0);

    // A damaged index (one byte flipped, then truncated, then emptied): the full compare, never a false "up to date".
    fs.writeFileSync(file, edited);
    fs.utimesSync(file, atime, mtime);
    const good = fs.readFileSync(index);
    const flipped = Buffer.from(good);
    flipped[Math.floor(flipped.length / 2)] ^= 1;
    for (const [what, bytes] of [
      ['flipped', flipped],
      ['truncated', good.subarray(0, good.length - 10)],
      ['empty', Buffer.alloc(0)],
    ] as const) {
      fs.writeFileSync(index, bytes);
      const damaged = verdict(`damaged index (${what})`);
      assert.equal(damaged.code, 1);
      assert.match(damaged.stdout, new RegExp(`changed: ${rel}`));
      assert.doesNotMatch(damaged.stderr, /compared by the check index/);
    }
    // An index recording the edited bytes' stat (the edit made while the index said otherwise) still sees the edit.
    fs.writeFileSync(index, good);
    assert.equal(verdict('index restored, edit still there').code, 1);

    // A one-line source change: its node (and its callers) rendered, the rest by the index.
    fs.writeFileSync(file, original);
    const svc = path.join(dir, 'services', fs.readdirSync(path.join(dir, 'services')).sort()[0]!);
    const text = fs.readFileSync(svc, 'utf8');
    const changedText = text.replace(/port: (\d+)/, (_, p: string) => `port: ${Number(p) + 1}`);
    assert.notEqual(changedText, text);
    fs.writeFileSync(svc, changedText);
    const oneLine = verdict('one-line change');
    assert.equal(oneLine.code, 1);
    assert.match(oneLine.stdout, /changed: /);
  } finally {
    tmp.cleanup();
  }
});
