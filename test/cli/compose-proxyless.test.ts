/**
 * Issue 16, bug 10: `mesh build --target compose` leaves proxyless gRPC
 * services out; the output (stderr and the compose file) and docs/envoy.md
 * say which and why.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { PACKAGE_ROOT } from '../../src/paths';

const MESH = path.join(PACKAGE_ROOT, 'bin', 'mesh.js');
const WHY = /plaintext .*control_plane\.grpc_xds_port.*127\.0\.0\.1/;

test('compose names each proxyless gRPC service it leaves out, and why, on stderr and in the compose file', (t) => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hms-compose-grpc-')), 'compose');
  t.after(() => fs.rmSync(path.dirname(out), { recursive: true, force: true }));
  const r = spawnSync(process.execPath, [MESH, 'build', 'examples/agency', '--target', 'compose', '--out', out], { cwd: PACKAGE_ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  for (const name of ['eligibility', 'impact-model']) {
    const note = r.stderr.split('\n').find((l) => l.includes(`note: ${name} is a proxyless gRPC service`));
    assert.ok(note, r.stderr);
    assert.match(note, WHY);
  }
  assert.match(r.stderr, /wrote \d+ files .*left out: eligibility, impact-model \(proxyless gRPC/);
  const compose = fs.readFileSync(path.join(out, 'docker-compose.yml'), 'utf8');
  assert.match(compose, /^# Left out \(proxyless gRPC[^]*?\): eligibility, impact-model$/m);
});

test('docs/envoy.md says why proxyless gRPC services are not in the composition', () => {
  const doc = fs.readFileSync(path.join(PACKAGE_ROOT, 'docs', 'envoy.md'), 'utf8');
  const section = doc.slice(doc.indexOf('### Proxyless gRPC services'));
  assert.ok(section.length > 30, 'a "### Proxyless gRPC services" section');
  assert.match(section.slice(0, 1500), /grpc_xds_port/);
  assert.match(section.slice(0, 1500), /127\.0\.0\.1/);
});
