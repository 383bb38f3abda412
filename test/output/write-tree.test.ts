/**
 * The build output gate: atomic replacement, no key material, and a build
 * replaces only a folder a build wrote: never user files, the mesh sources or
 * the PKI store; killed builds leave nothing that the next build does not clean.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../src/diag/errors';
import { PACKAGE_ROOT } from '../../src/paths';
import { diffTree, readTree, writeTreeAtomically } from '../../src/output/write-tree';
import * as outDir from '../../src/output/out-dir';
import { generateMesh } from '../../bench/gen-mesh';
import { copyExample, tempDir } from '../helpers/mesh-dir';

const KEY = ['-----BEGIN', 'PRIVATE', 'KEY-----'].join(' ');
const MESH = path.join(PACKAGE_ROOT, 'bin/mesh.js');

function mesh(args: string[], cwd: string): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [MESH, ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Every file under `dir` with its bytes, to prove that nothing was touched. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isSymbolicLink()) out.set(path.relative(dir, p), `-> ${fs.readlinkSync(p)}`);
      else out.set(path.relative(dir, p), fs.readFileSync(p, 'base64'));
    }
  };
  walk(dir);
  return out;
}

/** A pid that is certainly not running: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

test('a tree is written whole or not at all, and never with key material', () => {
  const { dir, cleanup } = tempDir('hms-out-');
  try {
    const out = path.join(dir, 'out');
    writeTreeAtomically(out, new Map([['a/x.json', '{}\n'], ['b.json', '[]\n']]));
    assert.deepEqual([...readTree(out).keys()].sort(), ['a/x.json', 'b.json']);
    assert.equal(fs.readFileSync(path.join(out, outDir.MARKER), 'utf8'), outDir.MARKER_TEXT, 'every build output carries the marker');
    // A second build replaces the first entirely (stale files go).
    writeTreeAtomically(out, new Map([['c.json', '1\n']]));
    assert.deepEqual([...readTree(out).keys()], ['c.json']);
    // Key material, in PEM or base64-encoded PEM: refused, and the previous output stays as it was.
    for (const text of [`x\n${KEY}\nMIIE\n`, Buffer.from(`${KEY}\nMIIE\n`).toString('base64')]) {
      assert.throws(() => writeTreeAtomically(out, new Map([['n/secrets.json', text]])), (e: unknown) => e instanceof UserError && e.code === 'MESH090');
      assert.deepEqual([...readTree(out).entries()], [['c.json', '1\n']]);
    }
    assert.deepEqual(fs.readdirSync(dir), ['out'], 'no temp folder left behind');
    assert.deepEqual(diffTree(new Map([['c.json', '2\n'], ['d.json', '']]), out), { added: ['d.json'], removed: [], changed: ['c.json'] });
  } finally {
    cleanup();
  }
});

test('mesh build replaces only a folder a build wrote: user files, a file, a link and a non-empty folder are refused (MESH089, exit 2) and left as they were', () => {
  const { dir, cleanup } = copyExample();
  try {
    fs.mkdirSync(path.join(dir, 'notes'));
    fs.writeFileSync(path.join(dir, 'notes', 'todo.txt'), 'mine\n');
    fs.writeFileSync(path.join(dir, 'report.txt'), 'a file\n');
    fs.symlinkSync('notes', path.join(dir, 'link'));
    fs.mkdirSync(path.join(dir, 'empty'));
    const before = snapshot(dir);
    for (const [out, why] of [
      ['notes', /--out notes is a folder no build wrote \(1 entry, no \.mesh-build\)/],
      ['report.txt', /--out report\.txt is not a folder/],
      ['link', /--out link is a symbolic link/],
      ['empty', /--out empty is an empty folder no build wrote.*--force/],
    ] as const) {
      const r = mesh(['build', '.', '--out', out], dir);
      assert.equal(r.code, 2, `${out}: ${r.out}${r.err}`);
      assert.match(r.err, /^mesh: error MESH089: /);
      assert.match(r.err, why);
      assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
    }
    assert.deepEqual(snapshot(dir), before, 'nothing was created, changed or removed');
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes('.mesh-')), []);
    // --force takes the empty folder, and never one with files in it.
    assert.equal(mesh(['build', '.', '--out', 'notes', '--force'], dir).code, 2);
    assert.equal(fs.readFileSync(path.join(dir, 'notes', 'todo.txt'), 'utf8'), 'mine\n');
    assert.equal(mesh(['build', '.', '--out', 'empty', '--force'], dir).code, 0);
    assert.ok(fs.existsSync(path.join(dir, 'empty', 'manifest.json')));
    // Now it is a build output: the next build replaces it without --force.
    assert.equal(mesh(['build', '.', '--out', 'empty'], dir).code, 0);
    // A marker that is not ours (another tool's file of that name) does not count.
    fs.mkdirSync(path.join(dir, 'fake'));
    fs.writeFileSync(path.join(dir, 'fake', outDir.MARKER), 'hello\n');
    assert.equal(mesh(['build', '.', '--out', 'fake'], dir).code, 2);
    assert.equal(fs.readFileSync(path.join(dir, 'fake', outDir.MARKER), 'utf8'), 'hello\n');
  } finally {
    cleanup();
  }
});

test('--out may not be, sit inside or contain the PKI store (MESH091) or the mesh sources (MESH088): the CA key and every manifest survive', () => {
  const { dir, cleanup } = copyExample();
  try {
    for (const args of [['certs', 'init', '--mesh', '.'], ['certs', 'issue', '--mesh', '.']]) assert.equal(mesh(args, dir).code, 0);
    const before = snapshot(dir);
    const cases: [string, string, RegExp][] = [
      ['pki/ca', 'MESH091', /--out pki\/ca is inside the PKI store/],
      ['pki/svc', 'MESH091', /is inside the PKI store/],
      ['pki/svc/grant-pay', 'MESH091', /is inside the PKI store/],
      ['pki', 'MESH091', /--out pki is the PKI store/],
      ['services', 'MESH088', /--out services is the mesh sources \(services\)/],
      ['services/out', 'MESH088', /is inside the mesh sources/],
      ['.', 'MESH088', /--out \. contains the mesh sources/],
      ['..', 'MESH088', /contains the mesh sources/],
      ['mesh_policies.yml', 'MESH088', /is the mesh sources \(mesh_policies\.yml\)/],
    ];
    for (const [out, code, why] of cases) {
      const r = mesh(['build', '.', '--out', out, '--force'], dir);
      assert.equal(r.code, 2, `${out}: ${r.out}${r.err}`);
      assert.match(r.err, new RegExp(`error ${code}: `), out);
      assert.match(r.err, why, out);
    }
    assert.deepEqual(snapshot(dir), before, 'no key, certificate or manifest was touched');
    // The PKI store inside the output (pki_dir: build/pki), the old MESH091 case.
    fs.appendFileSync(path.join(dir, 'mesh.yml'), 'pki_dir: build/pki\n');
    const r = mesh(['build', '.', '--out', 'build'], dir);
    assert.equal(r.code, 2);
    assert.match(r.err, /error MESH091: --out build contains the PKI store/);
    assert.equal(fs.existsSync(path.join(dir, 'build')), false);
    // An out/ inside the mesh directory (the usual layout) is fine.
    fs.writeFileSync(path.join(dir, 'mesh.yml'), fs.readFileSync(path.join(dir, 'mesh.yml'), 'utf8').replace('pki_dir: build/pki\n', ''));
    assert.equal(mesh(['build', '.', '--out', 'out'], dir).code, 0);
  } finally {
    cleanup();
  }
});

test('the next build removes temp folders of builds that died and puts back a tree left aside mid-swap; a running build\'s folders are left alone', () => {
  const { dir, cleanup } = tempDir('hms-out-');
  try {
    const out = path.join(dir, 'out');
    writeTreeAtomically(out, new Map([['v1.json', '1\n']]));
    const dead = deadPid();
    // A build killed while writing: its temp folder.
    const stale = path.join(dir, `.out.mesh-tmp-${dead}-aB3dE9`);
    fs.mkdirSync(path.join(stale, 'n'), { recursive: true });
    fs.writeFileSync(path.join(stale, 'n', 'big.json'), 'x'.repeat(10000));
    // A build still running (this process): never touched.
    const running = path.join(dir, `.out.mesh-tmp-${process.pid}-zZ9yY8`);
    fs.mkdirSync(running);
    // Another output's temp folder: not this build's business.
    const other = path.join(dir, `.other.mesh-tmp-${dead}-qQ1wW2`);
    fs.mkdirSync(other);
    const notes: string[] = [];
    writeTreeAtomically(out, new Map([['v2.json', '2\n']]), { onRecover: (n) => notes.push(n) });
    assert.deepEqual(fs.readdirSync(dir).sort(), [path.basename(other), path.basename(running), 'out'].sort());
    assert.deepEqual(notes, ['removed 1 temp folder(s) of earlier builds that did not finish']);
    fs.rmSync(running, { recursive: true });

    // Killed between the two renames of the fallback swap: out/ is missing, the old tree is beside it.
    const aside = path.join(dir, `.out.mesh-old-${dead}-kK7lL6`);
    fs.renameSync(out, aside);
    const r = outDir.recoverStale(out);
    assert.equal(r.restored, aside);
    assert.deepEqual([...readTree(out).keys()], ['v2.json'], 'the previous tree is back at out/');
  } finally {
    cleanup();
  }
});

test('the swap is atomic: a reader polling out/ during 15 rebuilds never finds it missing', { skip: process.platform !== 'linux' && 'renameat2 is Linux-only' }, async (t) => {
  const { dir, cleanup } = tempDir('hms-out-');
  try {
    const out = path.join(dir, 'out');
    const tree = new Map<string, string>();
    for (let i = 0; i < 200; i++) tree.set(`n${i % 20}/f${i}.json`, `${i}\n`);
    writeTreeAtomically(out, tree);
    // The reader is another process, so it runs while this one renames.
    const reader = spawn(process.execPath, ['-e', `
      const fs = require('fs'); let seen = 0, missing = 0; const stop = Date.now() + 60000;
      process.stdin.on('data', () => { process.stdout.write(JSON.stringify({ seen, missing })); process.exit(0); });
      (function spin() { for (let i = 0; i < 2000; i++) { seen++; if (!fs.existsSync(${JSON.stringify(path.join(out, outDir.MARKER))})) missing++; } if (Date.now() < stop) setImmediate(spin); })();
    `], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((r) => setTimeout(r, 100));
    const swaps = new Set<string>();
    const t0 = Date.now();
    for (let i = 0; i < 15; i++) {
      writeTreeAtomically(out, tree);
      swaps.add(outDir.lastSwap);
    }
    t.diagnostic(`15 swaps in ${Date.now() - t0} ms`);
    let text = '';
    reader.stdout.on('data', (c: Buffer) => (text += c.toString()));
    const done = new Promise((r) => reader.on('exit', r));
    reader.stdin.write('x');
    await done;
    const { seen, missing } = JSON.parse(text) as { seen: number; missing: number };
    assert.deepEqual([...swaps], ['exchange'], 'renameat2(RENAME_EXCHANGE) was used');
    assert.ok(seen > 1000, `the reader polled (${seen})`);
    assert.equal(missing, 0, `out/ was missing ${missing} of ${seen} times`);
  } finally {
    cleanup();
  }
});

test('the fallback swap (two renames, MESH_SWAP=rename) replaces the tree too', () => {
  const { dir, cleanup } = tempDir('hms-out-');
  const was = process.env.MESH_SWAP;
  try {
    process.env.MESH_SWAP = 'rename';
    const out = path.join(dir, 'out');
    writeTreeAtomically(out, new Map([['a.json', '1\n']]));
    writeTreeAtomically(out, new Map([['b.json', '2\n']]));
    assert.equal(outDir.lastSwap, 'rename');
    assert.deepEqual([...readTree(out).keys()], ['b.json']);
    assert.deepEqual(fs.readdirSync(dir), ['out']);
  } finally {
    if (was === undefined) delete process.env.MESH_SWAP;
    else process.env.MESH_SWAP = was;
    cleanup();
  }
});

test('kill -9 in the middle of writing a large build: out/ still holds the previous build, and the next build removes the temp folder', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir('hms-kill-');
  try {
    const meshDir = path.join(dir, 'mesh');
    fs.mkdirSync(meshDir);
    generateMesh(meshDir, 600);
    const out = path.join(dir, 'out');
    writeTreeAtomically(out, new Map([['previous.json', 'old\n']]));
    const child = spawn(process.execPath, [MESH, 'build', meshDir, '--out', out], { stdio: 'ignore' });
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    // Wait (bounded) for the temp folder to hold files, then kill the build.
    let killedWhileWriting = false;
    for (let i = 0; i < 6000 && child.exitCode === null; i++) {
      const tmp = fs.readdirSync(dir).find((n) => n.startsWith('.out.mesh-tmp-'));
      if (tmp && fs.readdirSync(path.join(dir, tmp)).length > 3) {
        child.kill('SIGKILL');
        killedWhileWriting = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await exited;
    assert.ok(killedWhileWriting, 'the build was killed while it wrote its temp folder');
    assert.deepEqual([...readTree(out).keys()], ['previous.json'], 'out/ is the previous build, whole');
    assert.equal(fs.readdirSync(dir).filter((n) => n.startsWith('.out.mesh-')).length, 1, 'the dead build left its temp folder');
    const again = mesh(['build', meshDir, '--out', out], dir);
    assert.equal(again.code, 0, again.err);
    assert.match(again.err, /removed 1 temp folder\(s\) of earlier builds/);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['mesh', 'out']);
    assert.ok(fs.existsSync(path.join(out, 'manifest.json')));
  } finally {
    cleanup();
  }
});
