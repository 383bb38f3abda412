/**
 * The committed out/ is the reviewed golden output of examples/ceq: compiling
 * the example must reproduce it byte for byte (the same check as
 * `mesh build examples/ceq --out out --check`, the GitOps gate).
 * UPDATE_GOLDEN=1 rewrites out/; review the diff like code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { lintMesh } from '../../src/lint';
import { buildOutputTree, compileMesh } from '../../src/envoy';
import { validateCompiled } from '../../src/output/validate-output';
import { diffTree, writeTreeAtomically } from '../../src/output/write-tree';
import { EXAMPLES_DIR, PACKAGE_ROOT } from '../../src/paths';
import { updatingGoldens } from './golden';

const OUT = path.join(PACKAGE_ROOT, 'out');

test('examples/ceq compiles to the committed out/, byte for byte', () => {
  const { model, diagnostics } = lintMesh(path.join(EXAMPLES_DIR, 'ceq'));
  assert.deepEqual(diagnostics, []);
  const compiled = compileMesh(model!);
  const tree = buildOutputTree(compiled);
  if (updatingGoldens()) writeTreeAtomically(OUT, tree);
  assert.deepEqual(diffTree(tree, OUT), { added: [], removed: [], changed: [] });
});

test('the example output validates against the Envoy API with zero findings', () => {
  const { model } = lintMesh(path.join(EXAMPLES_DIR, 'ceq'));
  assert.deepEqual(validateCompiled(compileMesh(model!)), []);
});

test('mesh build --check passes on the committed out/, however the mesh dir is spelled', () => {
  for (const dir of ['examples/ceq', './examples/ceq/', path.join(PACKAGE_ROOT, 'examples', 'ceq')]) {
    const r = spawnSync(process.execPath, ['bin/mesh.js', 'build', dir, '--out', 'out', '--check'], { cwd: PACKAGE_ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  }
});
