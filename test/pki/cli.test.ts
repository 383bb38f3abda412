/**
 * `mesh certs ...` end to end (in-process, through commander): output,
 * exit codes and error codes as a user sees them.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { readMeshForCerts } from '../../src/cli/certs';
import { runCerts, TD, tempDir, writeMesh } from './helpers';

interface CheckJson {
  ok: boolean;
  thresholdHours: number;
  certificates: { identity: string; spiffeId: string | null; notAfter: string | null; daysLeft: number | null; status: string; detail: string | null }[];
}

describe('mesh certs', () => {
  it('init, issue (every service by default), check: exit 0 and a JSON report', async (t) => {
    const mesh = writeMesh(tempDir(t), ['alpha', 'beta']);
    assert.equal((await runCerts(['init', '--mesh', mesh])).exitCode, 0);
    const issued = await runCerts(['issue', '--mesh', mesh]);
    assert.equal(issued.exitCode, 0);
    assert.match(issued.out, /issued spiffe:\/\/test\.mesh\/svc\/alpha .*\nissued spiffe:\/\/test\.mesh\/svc\/beta /);
    const check = await runCerts(['check', '--mesh', mesh, '--format', 'json']);
    assert.equal(check.exitCode, 0);
    const report = JSON.parse(check.out) as CheckJson;
    assert.equal(report.ok, true);
    assert.equal(report.thresholdHours, 8);
    assert.deepEqual(report.certificates.map((c) => [c.identity, c.status]), [['ca/root', 'ok'], ['svc/alpha', 'ok'], ['svc/beta', 'ok']]);
    assert.equal(report.certificates[1].spiffeId, `spiffe://${TD}/svc/alpha`);
    assert.ok((report.certificates[1].daysLeft ?? 0) > 0.95 && (report.certificates[1].daysLeft ?? 2) <= 1);
    assert.ok(fs.existsSync(path.join(mesh, 'pki/svc/beta/key.pem')), 'default store is <mesh>/pki');
  });

  it('issues admin and control-plane identities on request, into --dir', async (t) => {
    const root = tempDir(t);
    const mesh = writeMesh(path.join(root, 'mesh'), ['alpha']);
    const pki = path.join(root, 'elsewhere');
    assert.equal((await runCerts(['init', '--mesh', mesh, '--dir', pki, '--intermediate'])).exitCode, 0);
    const r = await runCerts(['issue', '--mesh', mesh, '--dir', pki, '--admin', 'ops', '--admin', 'oncall', '--control-plane']);
    assert.equal(r.exitCode, 0, r.errorMessage);
    assert.deepEqual(r.out.match(/spiffe:\/\/\S+/g), [`spiffe://${TD}/admin/ops`, `spiffe://${TD}/admin/oncall`, `spiffe://${TD}/control-plane`]);
    assert.equal(fs.existsSync(path.join(pki, 'svc')), false, 'explicit identities only: no services');
    const table = (await runCerts(['check', '--mesh', mesh, '--dir', pki])).out;
    assert.match(table, /^IDENTITY\s+NOT AFTER\s+DAYS LEFT\s+STATUS\s+DETAIL\n/);
    assert.match(table, /\nsvc\/alpha\s+-\s+-\s+missing/);
  });

  it('check exits 1 for an expiring certificate; rotate re-issues it and check exits 0 again', async (t) => {
    const mesh = writeMesh(tempDir(t), ['alpha', 'beta']);
    await runCerts(['init', '--mesh', mesh]);
    await runCerts(['issue', '--mesh', mesh, 'alpha', '--validity', '2h']);
    await runCerts(['issue', '--mesh', mesh, 'beta']);
    const check = await runCerts(['check', '--mesh', mesh]);
    assert.equal(check.exitCode, 1);
    assert.match(check.out, /svc\/alpha\s+\S+\s+0\.0\d\s+expiring/);
    assert.equal((await runCerts(['check', '--mesh', mesh, '--threshold', '1h'])).exitCode, 0);
    const rotated = await runCerts(['rotate', '--mesh', mesh]);
    assert.equal(rotated.exitCode, 0);
    assert.match(rotated.out, /^issued spiffe:\/\/test\.mesh\/svc\/alpha .*\n$/);
    assert.equal((await runCerts(['check', '--mesh', mesh])).exitCode, 0);
    assert.match((await runCerts(['rotate', '--mesh', mesh])).out, /^nothing to rotate \(threshold 8h\)/);
  });

  it('maps user errors to codes and exit 2: existing CA, missing CA, unknown service, bad duration, bad mesh dir', async (t) => {
    const mesh = writeMesh(tempDir(t), ['alpha']);
    const expectError = async (args: string[], code: string, exitCode = 2): Promise<void> => {
      const r = await runCerts(args);
      assert.equal(r.errorCode, code, `${args.join(' ')}: ${r.errorMessage}`);
      assert.equal(r.exitCode, exitCode);
    };
    await expectError(['issue', '--mesh', mesh], 'PKI002');
    await expectError(['check', '--mesh', mesh], 'PKI002');
    await runCerts(['init', '--mesh', mesh]);
    await expectError(['init', '--mesh', mesh], 'PKI001');
    assert.equal((await runCerts(['init', '--mesh', mesh, '--force'])).exitCode, 0);
    await expectError(['issue', '--mesh', mesh, 'gamma'], 'PKI007');
    await expectError(['issue', '--mesh', mesh, '--validity', '24'], 'PKI008');
    await expectError(['rotate', '--mesh', mesh, '--threshold', '-1h'], 'PKI008');
    await expectError(['issue', '--mesh', mesh, '--admin', 'Ops'], 'PKI006');
    await expectError(['issue', '--mesh', path.join(mesh, 'nope')], 'PKI015');
    await expectError(['check', '--mesh', mesh, '--format', 'xml'], 'commander.invalidArgument');
  });

  it('reads the mesh: trust_domain (default cluster.local), pki_dir, service names; rejects broken YAML', (t) => {
    const plain = writeMesh(tempDir(t), ['beta', 'alpha'], null);
    assert.deepEqual(readMeshForCerts(plain), { dir: plain, trustDomain: 'cluster.local', services: ['alpha', 'beta'], pkiDir: 'pki' });
    const custom = writeMesh(tempDir(t), []);
    fs.writeFileSync(path.join(custom, 'mesh.yml'), 'trust_domain: ceq.gov\npki_dir: secrets/pki\n');
    assert.deepEqual(readMeshForCerts(custom), { dir: custom, trustDomain: 'ceq.gov', services: [], pkiDir: 'secrets/pki' });
    fs.writeFileSync(path.join(custom, 'services', 'x.yml'), 'name: [unclosed\n');
    assert.throws(() => readMeshForCerts(custom), /PKI015|services\/x\.yml/);
  });
});
