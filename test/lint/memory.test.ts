/**
 * The control plane lints what `mesh apply` sent from memory; it must judge
 * exactly as `mesh lint` judges the same files on disk. Checked on the whole
 * bad-input corpus.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadMeshSync } from '../../src/config/load';
import { PACKAGE_ROOT } from '../../src/paths';
import { readMeshSources } from '../../src/xds/control-plane';
import { copyExample } from '../helpers/mesh-dir';

const CORPUS = path.join(PACKAGE_ROOT, 'test', 'corpus', 'lint');
// Sources travel as JSON strings: bytes that are not UTF-8 cannot arrive that way (they are
// replaced when read), so that one case is judged on disk only.
const DISK_ONLY = new Set(['yaml-not-utf8']);

test('in-memory loading gives the same diagnostics and model as loading from disk', () => {
  let compared = 0;
  for (const name of ['(example)', ...fs.readdirSync(CORPUS).sort()]) {
    if (DISK_ONLY.has(name)) continue;
    const { dir, cleanup } = copyExample();
    try {
      if (name !== '(example)') {
        fs.cpSync(path.join(CORPUS, name), dir, { recursive: true });
        fs.rmSync(path.join(dir, 'expect.txt'));
        const del = path.join(dir, 'delete.txt');
        if (fs.existsSync(del)) {
          for (const f of fs.readFileSync(del, 'utf8').split('\n').filter(Boolean)) fs.rmSync(path.join(dir, f));
          fs.rmSync(del);
        }
      }
      const disk = loadMeshSync(dir, { displayDir: 'm' });
      const memory = loadMeshSync('/nonexistent/virtual', { displayDir: 'm', files: readMeshSources(dir) });
      assert.deepEqual(memory.diagnostics, disk.diagnostics, name);
      assert.deepEqual(memory.model?.services, disk.model?.services, name);
      assert.deepEqual(memory.model?.policies, disk.model?.policies, name);
      compared++;
    } finally {
      cleanup();
    }
  }
  assert.ok(compared >= 50);
});
