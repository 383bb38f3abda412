/** The build output gate: atomic replacement, no key material, no PKI store inside it, --check. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../src/diag/errors';
import { PACKAGE_ROOT } from '../../src/paths';
import { assertOutsideOutput, diffTree, readTree, writeTreeAtomically } from '../../src/output/write-tree';
import { copyExample, tempDir } from '../helpers/mesh-dir';

const KEY = ['-----BEGIN', 'PRIVATE', 'KEY-----'].join(' ');

test('a tree is written whole or not at all, and never with key material', () => {
  const { dir, cleanup } = tempDir('hms-out-');
  try {
    const out = path.join(dir, 'out');
    writeTreeAtomically(out, new Map([['a/x.json', '{}\n'], ['b.json', '[]\n']]));
    assert.deepEqual([...readTree(out).keys()].sort(), ['a/x.json', 'b.json']);
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

test('a PKI store inside the output folder is refused (MESH091), and mesh build exits 2 with nothing written', () => {
  assert.throws(() => assertOutsideOutput('out', 'out/pki'), (e: unknown) => e instanceof UserError && e.code === 'MESH091');
  assert.doesNotThrow(() => assertOutsideOutput('out', 'pki'));
  const { dir, cleanup } = copyExample();
  try {
    fs.appendFileSync(path.join(dir, 'mesh.yml'), 'pki_dir: build/pki\n');
    const r = spawnSync(process.execPath, [path.join(PACKAGE_ROOT, 'bin/mesh.js'), 'build', '.', '--out', 'build'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /error MESH091: the PKI store .* is inside the build output build/);
    assert.equal(fs.existsSync(path.join(dir, 'build')), false);
  } finally {
    cleanup();
  }
});
