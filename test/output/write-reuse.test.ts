/**
 * writeTreeAtomically links the previous build's files that hold exactly the
 * new bytes (src/output/write-tree.ts, linkIfSame) and writes the others: a
 * file edited by hand, or linked from elsewhere, is never carried over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readTree, writeTreeAtomically } from '../../src/output/write-tree';
import { tempDir } from '../helpers/mesh-dir';

test('a rebuild links unchanged files, rewrites changed, hand-edited and externally linked ones', () => {
  const tmp = tempDir('hms-write-reuse-');
  try {
    const out = path.join(tmp.dir, 'out');
    const first = new Map<string, string>([['a/x.json', 'one\n'], ['a/y.json', 'two\n'], ['b/z.json', 'three\n'], ['b/w.json', 'four\n']]);
    writeTreeAtomically(out, first);
    const ino = (rel: string): number => fs.statSync(path.join(out, rel)).ino;
    const before = { x: ino('a/x.json'), y: ino('a/y.json'), z: ino('b/z.json'), w: ino('b/w.json') };
    fs.writeFileSync(path.join(out, 'b/z.json'), 'thrEe\n'); // edited by hand, same size
    fs.linkSync(path.join(out, 'b/w.json'), path.join(tmp.dir, 'elsewhere.json')); // someone else's link
    const second = new Map<string, string>([['a/x.json', 'one\n'], ['a/y.json', 'TWO!\n'], ['b/z.json', 'three\n'], ['b/w.json', 'four\n']]);
    writeTreeAtomically(out, second);
    assert.deepEqual(readTree(out), second);
    assert.equal(ino('a/x.json'), before.x, 'an unchanged file is linked, not written');
    assert.notEqual(ino('a/y.json'), before.y);
    assert.notEqual(ino('b/z.json'), before.z, 'a hand-edited file is written again');
    assert.notEqual(ino('b/w.json'), before.w, 'a file linked elsewhere is not shared with the new tree');
    assert.equal(fs.readFileSync(path.join(tmp.dir, 'elsewhere.json'), 'utf8'), 'four\n');
    assert.equal(fs.statSync(path.join(out, 'a/x.json')).nlink, 1, 'the previous tree is gone');
  } finally {
    tmp.cleanup();
  }
});
