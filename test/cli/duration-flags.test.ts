import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { PACKAGE_ROOT } from '../../src/paths';

const MESH = path.join(PACKAGE_ROOT, 'bin', 'mesh.js');

function mesh(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MESH, ...args], { cwd: PACKAGE_ROOT, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

// Issue 16, bug 3: an invalid duration used to fall back to 30 s without a word.
for (const bad of ['banana', '2 seconds', '30', '-1s']) {
  test(`mesh apply --timeout ${JSON.stringify(bad)} is refused with exit 2 before anything is sent`, () => {
    const r = mesh(['apply', 'examples/ceq', '--wait', '--timeout', bad, '--server', 'https://127.0.0.1:1']);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /--timeout/);
    assert.match(r.stderr, /expected a number and a unit ms, s, m or h greater than 0/);
    assert.doesNotMatch(r.stdout + r.stderr, /MESH096/, 'refused before reaching for the control plane');
  });
}

test('the duration flags of mesh certs are refused with exit 2 too', () => {
  const r = mesh(['certs', 'check', '--mesh', 'examples/ceq', '--dir', path.join(PACKAGE_ROOT, 'no-such-pki'), '--threshold', 'banana']);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /--threshold 'banana'/);
});
