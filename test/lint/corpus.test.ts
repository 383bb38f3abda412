/**
 * The bad-input corpus: each folder under test/corpus/lint/ overlays files on a
 * copy of examples/ceq (and may delete some, listed in delete.txt); expect.txt
 * holds the exact set of diagnostics (file:line:col code) lint must report.
 * Adding a case is adding a folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadMeshSync } from '../../src/config/load';
import { PACKAGE_ROOT } from '../../src/paths';
import { copyExample } from '../helpers/mesh-dir';

const CORPUS = path.join(PACKAGE_ROOT, 'test', 'corpus', 'lint');

function overlay(from: string, to: string): void {
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    if (entry.isDirectory()) {
      fs.mkdirSync(path.join(to, entry.name), { recursive: true });
      overlay(src, path.join(to, entry.name));
    } else if (entry.name !== 'expect.txt' && entry.name !== 'delete.txt') {
      fs.copyFileSync(src, path.join(to, entry.name));
    }
  }
}

const cases = fs.readdirSync(CORPUS).sort();

test('the corpus has at least 40 bad inputs', () => {
  assert.ok(cases.length >= 40, `only ${cases.length} cases`);
});

for (const name of cases) {
  test(`lint corpus: ${name}`, () => {
    const caseDir = path.join(CORPUS, name);
    const { dir, cleanup } = copyExample();
    try {
      overlay(caseDir, dir);
      const del = path.join(caseDir, 'delete.txt');
      if (fs.existsSync(del)) {
        for (const f of fs.readFileSync(del, 'utf8').split('\n').filter(Boolean)) fs.rmSync(path.join(dir, f));
      }
      const expected = fs
        .readFileSync(path.join(caseDir, 'expect.txt'), 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .sort();
      const { diagnostics, model } = loadMeshSync(dir);
      const actual = diagnostics.map((d) => `${path.relative(dir, d.file)}:${d.line}:${d.col} ${d.code}`).sort();
      assert.deepEqual(actual, expected, diagnostics.map((d) => `${d.file}:${d.line}:${d.col} ${d.code} ${d.message}`).join('\n'));
      for (const d of diagnostics) {
        assert.ok(d.message.length > 0);
        assert.ok(d.line >= 1 && d.col >= 1);
      }
      if (diagnostics.some((d) => d.severity === 'error')) assert.equal(model, undefined, 'no model when there are errors');
    } finally {
      cleanup();
    }
  });
}
