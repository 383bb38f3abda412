import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CODES } from '../../src/diag/codes';
import { PACKAGE_ROOT } from '../../src/paths';

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

test('every MESH code used in the sources is in the catalogue and documented', () => {
  const docs = fs.readFileSync(path.join(PACKAGE_ROOT, 'docs', 'diagnostics.md'), 'utf8');
  const used = new Set<string>();
  for (const f of walk(path.join(PACKAGE_ROOT, 'src')).filter((f) => f.endsWith('.ts'))) {
    for (const m of fs.readFileSync(f, 'utf8').matchAll(/'(MESH\d{3})'/g)) used.add(m[1]!);
  }
  assert.ok(used.size >= 30, `only ${used.size} codes found in src/`);
  for (const code of used) assert.ok(CODES.has(code), `${code} is used but not in src/diag/codes.ts`);
  for (const code of CODES.keys()) assert.match(docs, new RegExp(`^### ${code}$`, 'm'), `${code} is not documented in docs/diagnostics.md`);
});

test('every schema property has a description (editors show them)', () => {
  const missing: string[] = [];
  const visit = (node: unknown, where: string): void => {
    if (!node || typeof node !== 'object') return;
    const obj = node as Record<string, unknown>;
    if (obj.properties && typeof obj.properties === 'object') {
      for (const [k, v] of Object.entries(obj.properties as Record<string, Record<string, unknown>>)) {
        if (typeof v.description !== 'string' || v.description.length < 5) missing.push(`${where}.${k}`);
      }
    }
    for (const [k, v] of Object.entries(obj)) visit(v, `${where}.${k}`);
  };
  for (const f of ['mesh', 'mesh_policies', 'service']) {
    visit(JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'schemas', `${f}.schema.json`), 'utf8')), f);
  }
  assert.deepEqual(missing, []);
});
