import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths';
import { copyExample } from '../helpers/mesh-dir';

const MESH = path.join(PACKAGE_ROOT, 'bin', 'mesh.js');

function mesh(args: string[], cwd = PACKAGE_ROOT): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MESH, ...args], { cwd, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function assertNoStack(s: string): void {
  assert.doesNotMatch(s, /\n\s+at .+:\d+:\d+\)?/, 'no stack trace for user errors');
}

test('mesh lint examples/ceq exits 0 with no findings', () => {
  const r = mesh(['lint', 'examples/ceq']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /0 error\(s\), 0 warning\(s\)/);
});

test("the chapter's policy file, verbatim, passes lint", () => {
  const policy = fs.readFileSync(path.join(PACKAGE_ROOT, 'test/fixtures/seed-mesh/mesh_policies.yml'), 'utf8');
  assert.match(policy, /^# mesh_policies\.yml\ncircuit_breakers:\n  grant-pay:\n    max_failures: 3\n    reset_seconds: 30\nrate_limits:\n  impact-calc:\n    rps: 50\n$/);
  const r = mesh(['lint', 'test/fixtures/seed-mesh']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

test('errors print file:line:col: error CODE: message and exit 1', () => {
  const { dir, cleanup } = copyExample();
  try {
    const p = path.join(dir, 'mesh_policies.yml');
    fs.writeFileSync(p, fs.readFileSync(p, 'utf8').replace('max_failures: 3', 'max_failure: 3'));
    const r = mesh(['lint', '.'], dir);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.split('\n')[0], 'mesh_policies.yml:5:5: error MESH020: unknown key "max_failure" in circuit_breakers.grant-pay (did you mean "max_failures"?)');
    assertNoStack(r.stderr + r.stdout);
  } finally {
    cleanup();
  }
});

test('a missing directory is an I/O error: exit 2, positioned, no stack', () => {
  const r = mesh(['lint', 'no/such/dir']);
  assert.equal(r.code, 2);
  assert.match(r.stdout, /^no\/such\/dir:1:1: error MESH001: /);
  assertNoStack(r.stderr);
});

test('usage errors exit 2', () => {
  assert.equal(mesh(['lint', '--format', 'xml', 'examples/ceq']).code, 2);
  assert.equal(mesh(['lint', '--no-such-flag']).code, 2);
  assert.equal(mesh(['no-such-command']).code, 2);
});

test('warnings pass unless --strict', () => {
  const { dir, cleanup } = copyExample();
  try {
    const p = path.join(dir, 'mesh_policies.yml');
    fs.writeFileSync(p, fs.readFileSync(p, 'utf8').replace('rps: 50', 'rps: 50\n    burst: 10'));
    const loose = mesh(['lint', dir]);
    assert.equal(loose.code, 0);
    assert.match(loose.stdout, /warning MESH060/);
    assert.equal(mesh(['lint', '--strict', dir]).code, 1);
  } finally {
    cleanup();
  }
});

test('a 50 MB file is refused with a positioned diagnostic, quickly and without a stack', () => {
  const { dir, cleanup } = copyExample();
  try {
    fs.writeFileSync(path.join(dir, 'mesh.yml'), Buffer.alloc(50 * 1024 * 1024, 'a'));
    const r = mesh(['lint', '.'], dir);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^mesh\.yml:1:1: error MESH004: file is 52428800 bytes/);
    assertNoStack(r.stderr);
  } finally {
    cleanup();
  }
});

test('--format json, sarif and github', () => {
  const { dir, cleanup } = copyExample();
  try {
    const p = path.join(dir, 'services', 'impact-calc.yml');
    fs.writeFileSync(p, fs.readFileSync(p, 'utf8').replace('- public-docs', '- public-doc'));
    const json = JSON.parse(mesh(['lint', '--format', 'json', '.'], dir).stdout);
    assert.equal(json.summary.errors, 1);
    assert.deepEqual(
      { code: json.diagnostics[0].code, file: json.diagnostics[0].file, line: json.diagnostics[0].line, col: json.diagnostics[0].col },
      { code: 'MESH040', file: 'services/impact-calc.yml', line: 9, col: 5 },
    );

    const sarif = JSON.parse(mesh(['lint', '--format', 'sarif', '.'], dir).stdout);
    assert.equal(sarif.version, '2.1.0');
    const run = sarif.runs[0];
    assert.equal(run.tool.driver.rules[0].id, 'MESH040');
    assert.equal(run.results[0].ruleId, 'MESH040');
    assert.equal(run.results[0].level, 'error');
    assert.deepEqual(run.results[0].locations[0].physicalLocation.artifactLocation, { uri: 'services/impact-calc.yml' });
    assert.equal(run.results[0].locations[0].physicalLocation.region.startLine, 9);
    assert.equal(run.results[0].locations[0].physicalLocation.region.startColumn, 5);

    const gh = mesh(['lint', '--format', 'github', '.'], dir);
    assert.equal(gh.code, 1);
    assert.match(gh.stdout, /^::error file=services\/impact-calc\.yml,line=9,col=5,endLine=9,title=MESH040::"impact-calc" calls unknown service "public-doc" \(did you mean "public-docs"\?\)\n$/);
  } finally {
    cleanup();
  }
});
