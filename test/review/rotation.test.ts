/**
 * Certificate rotation lint (MESH100-104) on real stores made by src/pki,
 * through the library, `mesh lint` and `mesh certs check`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Diagnostic } from '../../src/diag/diagnostic';
import { lintMesh } from '../../src/lint';
import { EXAMPLES_DIR } from '../../src/paths';
import { initCa, issueIdentities, rotate, service } from '../../src/pki';
import { checkRotation } from '../../src/review/rotation';
import { HOUR, OPENSSL, TD, tempDir } from '../pki/helpers';
import { copyDir, mesh } from './helpers';

type T = Parameters<typeof tempDir>[0];

const summary = (ds: readonly Diagnostic[]): string[] => ds.map((d) => `${d.severity} ${d.code} ${path.basename(path.dirname(d.file))}/${path.basename(d.file)}`);

async function store(t: T, names = ['alpha', 'beta'], validityMs = 24 * HOUR): Promise<string> {
  const pki = path.join(tempDir(t), 'pki');
  await initCa(pki, { trustDomain: TD });
  await issueIdentities(pki, names.map(service), { trustDomain: TD, validityMs });
  return pki;
}

const read = (pki: string, rel: string): string => fs.readFileSync(path.join(pki, rel), 'utf8');

test('a freshly issued store has no findings; a missing or bundle-less store is not checked', async (t) => {
  const pki = await store(t);
  assert.deepEqual(checkRotation(pki), []);
  assert.deepEqual(checkRotation(path.join(pki, 'nowhere')), []);
});

test('MESH100: a workload valid no longer than the rotation threshold', async (t) => {
  const pki = await store(t, ['alpha'], 6 * HOUR);
  const found = checkRotation(pki, { thresholdMs: 8 * HOUR, displayDir: 'pki' });
  assert.deepEqual(summary(found), ['warning MESH100 alpha/chain.pem']);
  assert.equal(found[0].file, path.join('pki', 'svc', 'alpha', 'chain.pem'));
  assert.match(found[0].message, /^svc\/alpha is valid for 6h 5m, not longer than the rotation threshold 8h: it is due for rotation as soon as it is issued$/);
  // A lower threshold (as `certs check --threshold 1h` passes) makes it fine.
  assert.deepEqual(checkRotation(pki, { thresholdMs: HOUR }), []);
});

test('MESH103: init --force without an overlap window leaves valid workloads signed by a CA the bundle dropped; rotate fixes it', async (t) => {
  const pki = await store(t);
  await initCa(pki, { trustDomain: TD, force: true });
  const found = checkRotation(pki);
  assert.deepEqual(summary(found), ['error MESH103 alpha/chain.pem', 'error MESH103 beta/chain.pem']);
  assert.match(found[0].message, /^svc\/alpha was signed by a previous CA \(HMS-SVC root CA test\.mesh, no longer in the store\) that the trust bundle no longer contains, and stays valid until \d{4}-\d\d-\d\dT[\d:]+Z: CA rotation without an overlap window$/);
  await rotate(pki, { trustDomain: TD });
  assert.deepEqual(checkRotation(pki), []);
});

test('an overlap window done right: old and new CA both in the bundle, workloads from either are fine', async (t) => {
  const pki = await store(t, ['alpha']);
  const oldRoot = read(pki, 'ca/ca.crt');
  await initCa(pki, { trustDomain: TD, force: true });
  fs.writeFileSync(path.join(pki, 'trust-bundle.pem'), read(pki, 'ca/ca.crt') + oldRoot);
  await issueIdentities(pki, [service('beta')], { trustDomain: TD });
  assert.deepEqual(checkRotation(pki), []);
});

test('MESH104: the new CA signs while the bundle still holds only the old one (once, naming what it already issued)', async (t) => {
  const pki = await store(t, ['alpha']);
  const oldBundle = read(pki, 'trust-bundle.pem');
  await initCa(pki, { trustDomain: TD, force: true });
  fs.writeFileSync(path.join(pki, 'trust-bundle.pem'), oldBundle);
  await issueIdentities(pki, [service('beta')], { trustDomain: TD });
  const found = checkRotation(pki);
  assert.deepEqual(summary(found), ['error MESH104 pki/trust-bundle.pem']);
  assert.match(found[0].message, /^the new CA .+ \(ca\/ca\.crt\) is not in the trust bundle, which holds only .+: peers reject every certificate it issues \(already issued and rejected: svc\/beta\)$/);
});

test('MESH101: the bundle lacks the issuing CA and holds nothing in use (not a rotation)', async (t) => {
  const pki = await store(t, ['alpha']);
  const other = await store(t, []);
  fs.writeFileSync(path.join(pki, 'trust-bundle.pem'), read(other, 'trust-bundle.pem'));
  const found = checkRotation(pki);
  assert.deepEqual(summary(found), ['error MESH101 alpha/chain.pem']);
  assert.match(found[0].message, /^the trust bundle does not contain the CA that issued svc\/alpha/);
});

test('MESH102: a workload that outlives its CA (signed outside `mesh certs`, which caps leaves at the CA)', async (t) => {
  const pki = await store(t, []);
  const dir = path.join(pki, 'svc', 'long');
  fs.mkdirSync(dir, { recursive: true });
  const key = path.join(dir, 'key.pem');
  const csr = path.join(dir, 'req.csr');
  execFileSync(OPENSSL, ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-subj', '/CN=long', '-out', csr], { stdio: 'ignore' });
  execFileSync(OPENSSL, ['x509', '-req', '-in', csr, '-CA', path.join(pki, 'ca/ca.crt'), '-CAkey', path.join(pki, 'ca/ca.key'), '-set_serial', '7', '-days', '800', '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
  fs.copyFileSync(path.join(dir, 'cert.pem'), path.join(dir, 'chain.pem'));
  const found = checkRotation(pki);
  assert.deepEqual(summary(found), ['warning MESH102 long/chain.pem']);
  assert.match(found[0].message, /^CA .+ expires \d{4}-.+, before svc\/long \(\d{4}-.+\): the certificate stops verifying when the CA expires$/);
});

test('mesh lint runs the checks when the mesh has a PKI store (positions under the mesh dir); mesh certs check too', async (t) => {
  const dir = tempDir(t);
  copyDir(path.join(EXAMPLES_DIR, 'ceq'), dir);
  const pki = path.join(dir, 'pki');
  await initCa(pki, { trustDomain: 'ceq.gov' });
  await issueIdentities(pki, ['grant-pay', 'impact-calc', 'public-docs'].map(service), { trustDomain: 'ceq.gov' });
  assert.deepEqual(lintMesh(dir).diagnostics, []);

  await initCa(pki, { trustDomain: 'ceq.gov', force: true });
  const lint = mesh(['lint', '.'], dir);
  assert.equal(lint.code, 1);
  assert.match(lint.stdout, /^pki\/svc\/grant-pay\/chain\.pem:1:1: error MESH103: svc\/grant-pay was signed by a previous CA/m);
  assert.equal(lint.stdout.match(/error MESH103/g)?.length, 3);

  const check = mesh(['certs', 'check', '--mesh', dir]);
  assert.equal(check.code, 1);
  assert.match(check.stdout, /^svc\/impact-calc +\S+ +[\d.]+ +untrusted/m);
  assert.match(check.stdout, /impact-calc\/chain\.pem:1:1: error MESH103: /);
  const json = mesh(['certs', 'check', '--mesh', dir, '--format', 'json']);
  const report = JSON.parse(json.stdout) as { ok: boolean; rotation: Diagnostic[] };
  assert.deepEqual([report.ok, report.rotation.map((d) => d.code)], [false, ['MESH103', 'MESH103', 'MESH103']]);
});
