/**
 * Issue 16, bug 7: `mesh apply`/`status` without an admin certificate
 * (MESH096) offer one fix, and running it (from where the user stands) is
 * what makes the certificate error go away.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { PACKAGE_ROOT } from '../../src/paths';

const MESH = path.join(PACKAGE_ROOT, 'bin', 'mesh.js');

function mesh(cwd: string, args: string[]): { code: number; stderr: string } {
  const r = spawnSync(process.execPath, [MESH, ...args], { cwd, encoding: 'utf8' });
  return { code: r.status ?? -1, stderr: r.stderr };
}

/** The commands a message tells the user to run: `mesh ...` in backquotes or after "with: ". */
function suggested(text: string): string[] {
  return [...text.matchAll(/`(mesh [^`]+)`|with: (mesh [^\n)]+)/g)].map((m) => (m[1] ?? m[2])!.trim());
}

for (const [label, dirArgs] of [['a mesh dir', ['mesh']], ['a mesh dir and --pki', ['mesh', '--pki', 'keys']]] as const) {
  test(`missing admin certificate, ${label}: one suggested command, and it fixes it`, (t) => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-admin-hint-'));
    t.after(() => fs.rmSync(root, { recursive: true, force: true }));
    fs.cpSync(path.join(PACKAGE_ROOT, 'examples', 'ceq'), path.join(root, 'mesh'), { recursive: true });
    const pkiArgs = dirArgs.length > 1 ? ['--dir', 'keys'] : [];
    assert.equal(mesh(root, ['certs', 'init', '--mesh', 'mesh', ...pkiArgs]).code, 0);
    const status = ['status', '--mesh', ...dirArgs, '--server', 'https://127.0.0.1:1'];
    const before = mesh(root, status);
    assert.equal(before.code, 2);
    assert.match(before.stderr, /MESH096: no admin certificate "ops"/);
    const fixes = suggested(before.stderr);
    assert.equal(fixes.length, 1, before.stderr);
    assert.equal(mesh(root, fixes[0]!.split(' ').slice(1)).code, 0, fixes[0]);
    const after = mesh(root, status);
    assert.doesNotMatch(after.stderr, /no admin certificate/, `after running ${fixes[0]}`);
  });
}
