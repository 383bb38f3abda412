/**
 * Issue 16, bugs 5 and 8: MESH070 points only at files that exist and names
 * only keys that exist, and a reviewed gap can be acknowledged per service
 * (`acknowledge: [MESH070]`) so `mesh lint --strict` can gate CI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Diagnostic } from '../../src/diag/diagnostic';
import { PACKAGE_ROOT } from '../../src/paths';
import { copyExample } from '../helpers/mesh-dir';

const MESH = path.join(PACKAGE_ROOT, 'bin', 'mesh.js');

function lint(dir: string, ...flags: string[]): { code: number; diagnostics: Diagnostic[]; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MESH, 'lint', '.', ...flags], { cwd: dir, encoding: 'utf8' });
  const json = spawnSync(process.execPath, [MESH, 'lint', '.', '--format', 'json'], { cwd: dir, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, diagnostics: (JSON.parse(json.stdout) as { diagnostics: Diagnostic[] }).diagnostics };
}

function schemaKeys(name: string): Set<string> {
  const keys = new Set<string>();
  const visit = (node: unknown, at: string): void => {
    const props = (node as { properties?: Record<string, unknown> }).properties;
    for (const [k, v] of Object.entries(props ?? {})) {
      keys.add(at ? `${at}.${k}` : k);
      visit(v, at ? `${at}.${k}` : k);
    }
  };
  visit(JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'schemas', `${name}.schema.json`), 'utf8')), '');
  return keys;
}

function addToManifests(dir: string, line: string): void {
  for (const f of fs.readdirSync(path.join(dir, 'services'))) fs.appendFileSync(path.join(dir, 'services', f), `${line}\n`);
}

test('without mesh.yml, every MESH070 points at a file that exists', () => {
  const { dir, cleanup } = copyExample('ceq-grpc');
  try {
    fs.rmSync(path.join(dir, 'mesh.yml'));
    const gaps = lint(dir).diagnostics.filter((d) => d.code === 'MESH070');
    assert.ok(gaps.length >= 3);
    for (const d of gaps) assert.ok(fs.existsSync(path.resolve(dir, d.file)), `${d.file}:${d.line}:${d.col}: ${d.message}`);
  } finally {
    cleanup();
  }
});

test('MESH070 names only keys that exist in the schemas', () => {
  const { dir, cleanup } = copyExample('agency');
  try {
    const mesh = schemaKeys('mesh');
    const real = (key: string): boolean => mesh.has(key) || schemaKeys('service').has(key) || schemaKeys('mesh_policies').has(key.split('.')[0]!);
    const gaps = lint(dir).diagnostics.filter((d) => d.code === 'MESH070');
    assert.ok(gaps.length > 0);
    for (const d of gaps) {
      assert.ok(d.path !== undefined && real(d.path), `path ${d.path} of: ${d.message}`);
      for (const [key] of (d.message + (d.hint ?? '')).matchAll(/\bcontrol_plane\.[a-z_]+/g)) assert.ok(mesh.has(key), `${key} in: ${d.message}`);
    }
  } finally {
    cleanup();
  }
});

test('acknowledge: [MESH070] in each gRPC manifest lets mesh lint --strict pass, and still shows the gaps', () => {
  const { dir, cleanup } = copyExample('ceq-grpc');
  try {
    assert.equal(lint(dir, '--strict').code, 1);
    addToManifests(dir, 'acknowledge: [MESH070]');
    const r = lint(dir, '--strict');
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stderr, /0 error\(s\), 0 warning\(s\), [4-9] acknowledged or info/);
    const gaps = r.diagnostics.filter((d) => d.code === 'MESH070');
    assert.ok(gaps.length >= 4);
    for (const d of gaps) {
      assert.equal(d.severity, 'info');
      assert.match(d.message, /\(acknowledged in services\/[a-z-]+\.yml:\d+\)$/);
    }
  } finally {
    cleanup();
  }
});

test('an acknowledgement with nothing to acknowledge is a warning (MESH071), so it cannot hide a future gap unseen', () => {
  const { dir, cleanup } = copyExample('ceq');
  try {
    fs.appendFileSync(path.join(dir, 'services', 'grant-pay.yml'), 'acknowledge: [MESH070]\n');
    const ds = lint(dir).diagnostics;
    assert.deepEqual(ds.map((d) => [d.code, d.file]), [['MESH071', 'services/grant-pay.yml']]);
  } finally {
    cleanup();
  }
});

test('only warnings that name a service can be acknowledged: acknowledge: [MESH043] is a schema error', () => {
  const { dir, cleanup } = copyExample('ceq');
  try {
    fs.appendFileSync(path.join(dir, 'services', 'grant-pay.yml'), 'acknowledge: [MESH043]\n');
    const r = lint(dir);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /services\/grant-pay\.yml:\d+:\d+: error MESH025: /);
  } finally {
    cleanup();
  }
});

test('MESH045 (an access rule for a caller that never calls) can be acknowledged in the callee manifest', () => {
  const { dir, cleanup } = copyExample('ceq');
  try {
    const p = path.join(dir, 'mesh_policies.yml');
    const text = fs.readFileSync(p, 'utf8');
    const edited = text.replace('  public-docs:\n    allow: [citizen-gw, impact-calc]', '  public-docs:\n    allow: [citizen-gw, impact-calc, grant-pay]');
    assert.notEqual(edited, text, 'the example\'s access.public-docs line moved: update this edit');
    fs.writeFileSync(p, edited);
    const before = lint(dir, '--strict');
    assert.equal(before.code, 1);
    const warning = before.diagnostics.find((d) => d.code === 'MESH045');
    assert.ok(warning);
    assert.match(warning.message, /grant-pay/);
    assert.match(warning.hint ?? '', /services\/grant-pay\.yml/);
    fs.appendFileSync(path.join(dir, 'services', 'public-docs.yml'), 'acknowledge: [MESH045]\n');
    assert.equal(lint(dir, '--strict').code, 0);
  } finally {
    cleanup();
  }
});
