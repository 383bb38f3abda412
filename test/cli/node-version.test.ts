/**
 * bin/mesh.js refuses a Node.js older than package.json's engines (20.15:
 * zlib.crc32 and crypto.hash) with one plain line and exit 1, instead of a
 * TypeError deep in a build or an apply. The Node running the tests is new
 * enough, so the old version is simulated by redefining process.versions.node
 * before the launcher runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { PACKAGE_ROOT } from '../../src/paths';

const MESH = path.join(PACKAGE_ROOT, 'bin', 'mesh.js');

function launchAs(version: string): { code: number | null; stdout: string; stderr: string } {
  const script = `Object.defineProperty(process.versions, 'node', { value: ${JSON.stringify(version)} }); process.argv = [process.argv[0], ${JSON.stringify(MESH)}, '--version']; require(${JSON.stringify(MESH)});`;
  const r = spawnSync(process.execPath, ['-e', script], { cwd: PACKAGE_ROOT, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('mesh refuses a Node.js older than 20.15 in one line, and runs on the engines floor and later', () => {
  const engines = (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  assert.equal(engines, '>=20.15', 'the launcher and package.json name the same floor');
  for (const old of ['20.11.1', '20.14.0', '18.20.4']) {
    const r = launchAs(old);
    assert.equal(r.code, 1, `${old}: ${r.stderr}`);
    assert.equal(r.stderr, `mesh: Node.js ${old} is too old: HMS-SVC needs Node.js 20.15 or later (package.json "engines")\n`);
    assert.equal(r.stdout, '');
  }
  for (const ok of ['20.15.0', process.versions.node]) {
    const r = launchAs(ok);
    assert.equal(r.code, 0, `${ok}: ${r.stderr}`);
    assert.match(r.stdout, /^\d+\.\d+\.\d+/, 'the CLI ran and printed its version');
  }
});
