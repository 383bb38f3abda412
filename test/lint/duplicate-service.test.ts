/**
 * Issue 16, bug 6: a service declared in two manifests. The declaration that
 * is not in services/<name>.yml is the duplicate; it is blamed, the other is
 * named, and the hint suggests a name no service has (never a path taken).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadMeshSync } from '../../src/config/load';
import { copyExample } from '../helpers/mesh-dir';

function duplicateOf(file: string, name: string): { code: string; file: string; message: string; hint?: string }[] {
  const { dir, cleanup } = copyExample();
  try {
    const text = fs.readFileSync(path.join(dir, 'services', 'grant-pay.yml'), 'utf8').replace(/^port: \d+$/m, 'port: 8099').replace(/^mesh_port: \d+$/m, 'mesh_port: 15099');
    fs.writeFileSync(path.join(dir, 'services', file), text.replace(/^name: grant-pay$/m, `name: ${name}`));
    return loadMeshSync(dir).diagnostics.map((d) => ({ code: d.code, file: path.relative(dir, d.file), message: d.message, ...(d.hint ? { hint: d.hint } : {}) }));
  } finally {
    cleanup();
  }
}

test('a copy that sorts first is still the duplicate; the hint names a free service name', () => {
  const ds = duplicateOf('a-copy.yml', 'grant-pay');
  assert.deepEqual(ds.map((d) => [d.code, d.file]), [['MESH030', 'services/a-copy.yml']]);
  assert.match(ds[0]!.message, /already declared in \S*services\/grant-pay\.yml/);
  assert.match(ds[0]!.hint!, /"a-copy"/);
});

test('a duplicate never gets a hint to rename its file to the path the original has', () => {
  const ds = duplicateOf('public-docs2.yml', 'grant-pay');
  for (const d of ds) assert.doesNotMatch(d.hint ?? '', /services\/grant-pay\.yml/, `${d.code}: ${d.hint}`);
  assert.deepEqual(ds.map((d) => d.code), ['MESH030']);
});

test('when the file name is a taken service name too, the suggested name is still free', () => {
  // services/impact-calc.yaml beside impact-calc.yml: its own name, "impact-calc", is not free either.
  const ds = duplicateOf('impact-calc.yaml', 'grant-pay').filter((d) => d.code === 'MESH030');
  assert.deepEqual(ds.map((d) => d.file), ['services/impact-calc.yaml']);
  const suggested = /"([a-z0-9-]+)"/.exec(ds[0]!.hint!)?.[1];
  assert.ok(suggested && !['grant-pay', 'impact-calc', 'public-docs'].includes(suggested), ds[0]!.hint);
});
