/**
 * The store on disk: modes, bad input (each with its code), "nothing
 * half-written", and the check/rotate life cycle with an injected clock.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import * as tls from 'node:tls';
import { UserError } from '../../src/diag/errors';
import {
  admin,
  checkStore,
  controlPlane,
  initCa,
  issueIdentities,
  listIssued,
  loadServiceCredentials,
  rotate,
  service,
  type CertStatus,
} from '../../src/pki';
import { HOUR, listTree, modeOf, snapshot, TD, tempDir } from './helpers';

/** Awaits `fn` and returns the UserError it throws (failing the test if it does not). */
async function userError(fn: () => unknown): Promise<UserError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a UserError');
}

async function freshStore(t: Parameters<typeof tempDir>[0], names: string[] = ['alpha', 'beta']): Promise<string> {
  const pki = path.join(tempDir(t), 'pki');
  await initCa(pki, { trustDomain: TD });
  if (names.length) await issueIdentities(pki, names.map(service), { trustDomain: TD });
  return pki;
}

/**
 * Runs issueIdentities where file modes are enforced: root ignores them, so
 * as root the call runs in a child process as `nobody` on a store chowned to it.
 */
async function issueAsUnprivileged(pki: string, names: string[]): Promise<{ code?: string; message: string }> {
  if (process.getuid?.() !== 0) {
    try {
      await issueIdentities(pki, names.map(service), { trustDomain: TD });
      return { message: 'no error' };
    } catch (err) {
      return { code: (err as UserError).code, message: (err as Error).message };
    }
  }
  const nobody = 65534;
  // The test's temp folder (pki's parent) and everything in it become nobody's.
  const top = path.dirname(pki);
  fs.chownSync(top, nobody, nobody);
  for (const rel of listTree(top)) fs.chownSync(path.join(top, rel), nobody, nobody);
  const lib = path.resolve(__dirname, '../../src/pki');
  const script = `require(${JSON.stringify(lib)}).issueIdentities(${JSON.stringify(pki)}, ${JSON.stringify(names)}.map((n) => ({ kind: 'svc', name: n })), { trustDomain: ${JSON.stringify(TD)} })
    .then(() => console.log(JSON.stringify({ message: 'no error' })), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));`;
  const out = execFileSync(process.execPath, ['-e', script], { uid: nobody, gid: nobody, encoding: 'utf8' });
  return JSON.parse(out) as { code?: string; message: string };
}

const stateOf = (rows: readonly CertStatus[], label: string): CertStatus | undefined => rows.find((r) => r.label === label);
const noTempLeft = (pki: string): void => assert.deepEqual(listTree(pki).filter((p) => p.includes('.tmp-')), []);

describe('PKI store', () => {
  it('writes keys 0600 and folders 0700, certificates 0644', async (t) => {
    const pki = path.join(tempDir(t), 'nested', 'pki');
    await initCa(pki, { trustDomain: TD, intermediate: true });
    await issueIdentities(pki, [service('alpha'), admin('ops'), controlPlane], { trustDomain: TD });
    for (const dir of ['.', 'ca', 'svc', 'svc/alpha', 'admin', 'admin/ops', 'control-plane']) assert.equal(modeOf(path.join(pki, dir)), 0o700, dir);
    for (const key of ['ca/ca.key', 'ca/intermediate.key', 'svc/alpha/key.pem', 'admin/ops/key.pem', 'control-plane/key.pem']) {
      assert.equal(modeOf(path.join(pki, key)), 0o600, key);
    }
    assert.equal(modeOf(path.join(pki, 'svc/alpha/cert.pem')), 0o644);
    assert.equal(modeOf(path.join(path.dirname(pki))), 0o700, 'created parents are private too');
    noTempLeft(pki);
  });

  it('loads credentials that Node accepts and whose key signs for the certificate', async (t) => {
    const pki = await freshStore(t, ['alpha']);
    const c = loadServiceCredentials(pki, 'alpha', TD);
    assert.equal(c.spiffeId, `spiffe://${TD}/svc/alpha`);
    tls.createSecureContext({ key: c.keyPem, cert: c.chainPem, ca: c.trustBundlePem });
    const sig = crypto.sign('sha256', Buffer.from('hello'), c.keyPem);
    assert.ok(crypto.verify('sha256', Buffer.from('hello'), new crypto.X509Certificate(c.certPem).publicKey, sig));
    assert.deepEqual(listIssued(pki), [service('alpha')]);
  });

  it('refuses to overwrite a CA without force (PKI001); force replaces it and issued certificates become untrusted', async (t) => {
    const pki = await freshStore(t, ['alpha']);
    const before = snapshot(pki);
    const err = await userError(() => initCa(pki, { trustDomain: TD }));
    assert.equal(err.code, 'PKI001');
    assert.equal(err.exitCode, 2);
    assert.deepEqual(snapshot(pki), before);
    await initCa(pki, { trustDomain: TD, force: true });
    assert.notEqual(snapshot(pki)['ca/ca.key'], before['ca/ca.key']);
    assert.equal(stateOf(checkStore(pki), 'svc/alpha')?.state, 'untrusted');
    const result = await rotate(pki, { trustDomain: TD });
    assert.deepEqual(result.rotated.map((r) => r.spiffeId), [`spiffe://${TD}/svc/alpha`]);
    assert.equal(stateOf(checkStore(pki), 'svc/alpha')?.state, 'ok');
    noTempLeft(pki);
  });

  it('reports a missing CA (PKI002) and creates nothing', async (t) => {
    const pki = path.join(tempDir(t), 'pki');
    assert.equal((await userError(() => issueIdentities(pki, [service('alpha')], { trustDomain: TD }))).code, 'PKI002');
    assert.equal(fs.existsSync(pki), false);
    assert.equal((await userError(() => checkStore(pki))).code, 'PKI002');
  });

  it('reports corrupt PEM (PKI003): a truncated certificate, a damaged key, a damaged CA', async (t) => {
    const pki = await freshStore(t);
    const cert = path.join(pki, 'svc/alpha/cert.pem');
    fs.writeFileSync(cert, fs.readFileSync(cert, 'utf8').slice(0, 300));
    assert.equal((await userError(() => loadServiceCredentials(pki, 'alpha'))).code, 'PKI003');
    const key = path.join(pki, 'svc/beta/key.pem');
    fs.writeFileSync(key, fs.readFileSync(key, 'utf8').replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!'));
    assert.equal((await userError(() => loadServiceCredentials(pki, 'beta'))).code, 'PKI003');
    const rows = checkStore(pki);
    assert.match(stateOf(rows, 'svc/alpha')?.detail ?? '', /^PKI003/);
    assert.equal(stateOf(rows, 'svc/beta')?.state, 'invalid');
    // rotate leaves what it cannot read to a human instead of silently overwriting it
    const result = await rotate(pki, { trustDomain: TD });
    assert.deepEqual(result.rotated, []);
    assert.deepEqual(result.needsAttention.map((r) => r.label), ['svc/alpha', 'svc/beta']);
    fs.writeFileSync(path.join(pki, 'ca/ca.crt'), '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n');
    const before = snapshot(pki);
    assert.equal((await userError(() => issueIdentities(pki, [service('gamma')], { trustDomain: TD }))).code, 'PKI003');
    assert.deepEqual(snapshot(pki), before);
  });

  it('reports a key that does not match its certificate (PKI004), for a service and for the CA', async (t) => {
    const pki = await freshStore(t);
    fs.copyFileSync(path.join(pki, 'svc/beta/key.pem'), path.join(pki, 'svc/alpha/key.pem'));
    const err = await userError(() => loadServiceCredentials(pki, 'alpha'));
    assert.equal(err.code, 'PKI004');
    assert.match(err.message, /svc\/alpha\/key\.pem is not the private key of .*svc\/alpha\/cert\.pem/);
    fs.copyFileSync(path.join(pki, 'svc/beta/key.pem'), path.join(pki, 'ca/ca.key'));
    const before = snapshot(pki);
    assert.equal((await userError(() => issueIdentities(pki, [service('gamma')], { trustDomain: TD }))).code, 'PKI004');
    assert.deepEqual(snapshot(pki), before);
  });

  it('reports an unwritable folder (PKI005) and leaves no temp files', async (t) => {
    const pki = await freshStore(t, []);
    fs.writeFileSync(path.join(pki, 'svc'), 'a file where the svc/ folder should be');
    const err = await userError(() => issueIdentities(pki, [service('alpha')], { trustDomain: TD }));
    assert.equal(err.code, 'PKI005');
    assert.equal(err.exitCode, 2);
    noTempLeft(pki);
  });

  it('reports a read-only folder (PKI005)', async (t) => {
    const pki = await freshStore(t, ['alpha']);
    fs.chmodSync(path.join(pki, 'svc'), 0o500);
    const before = snapshot(pki);
    const result = await issueAsUnprivileged(pki, ['beta']);
    fs.chmodSync(path.join(pki, 'svc'), 0o700);
    assert.equal(result.code, 'PKI005', result.message);
    assert.match(result.message, /EACCES/);
    assert.deepEqual(snapshot(pki), before);
  });

  it('writes a batch all-or-nothing when staging fails half-way (nothing half-written)', async (t) => {
    const pki = await freshStore(t, ['alpha']);
    fs.writeFileSync(path.join(pki, 'admin'), 'blocks admin/ops');
    const before = snapshot(pki);
    // svc/alpha and svc/beta are staged first (input order), then admin/ops cannot be.
    const err = await userError(() => issueIdentities(pki, [service('alpha'), service('beta'), admin('ops')], { trustDomain: TD }));
    assert.equal(err.code, 'PKI005');
    assert.deepEqual(snapshot(pki), before, 're-issued alpha and new beta must not be committed');
    assert.equal(fs.existsSync(path.join(pki, 'svc/beta')), false);
    noTempLeft(pki);
  });

  it('validates names (PKI006) and the trust domain against the CA (PKI010) before writing', async (t) => {
    const pki = await freshStore(t, []);
    const before = snapshot(pki);
    for (const bad of ['Alpha', '-a', 'a_b', '../x', '', 'a'.repeat(64)]) {
      assert.equal((await userError(() => issueIdentities(pki, [service(bad)], { trustDomain: TD }))).code, 'PKI006', bad);
    }
    assert.equal((await userError(() => issueIdentities(pki, [admin('ops/x')], { trustDomain: TD }))).code, 'PKI006');
    assert.equal((await userError(() => issueIdentities(pki, [service('a')], { trustDomain: 'Bad Domain' }))).code, 'PKI006');
    const mismatch = await userError(() => issueIdentities(pki, [service('a')], { trustDomain: 'other.mesh' }));
    assert.equal(mismatch.code, 'PKI010');
    assert.deepEqual(snapshot(pki), before);
  });

  it('refuses to issue from a CA that is not valid at `now` (PKI009) and caps leaves at the CA notAfter', async (t) => {
    const pki = path.join(tempDir(t), 'pki');
    const now = new Date();
    await initCa(pki, { trustDomain: TD, now, validityMs: 2 * HOUR });
    const tooLate = new Date(now.getTime() + 3 * HOUR);
    assert.equal((await userError(() => issueIdentities(pki, [service('a')], { trustDomain: TD, now: tooLate }))).code, 'PKI009');
    const [issued] = await issueIdentities(pki, [service('a')], { trustDomain: TD, now, validityMs: 24 * HOUR });
    const caEnd = new Date(new crypto.X509Certificate(fs.readFileSync(path.join(pki, 'ca/ca.crt'))).validTo);
    assert.equal(issued.notAfter.getTime(), caEnd.getTime());
  });

  it('reports an identity never issued (PKI011) and one whose files belong to another (PKI013)', async (t) => {
    const pki = await freshStore(t, ['alpha']);
    assert.equal((await userError(() => loadServiceCredentials(pki, 'gamma'))).code, 'PKI011');
    fs.cpSync(path.join(pki, 'svc/alpha'), path.join(pki, 'svc/gamma'), { recursive: true });
    assert.equal((await userError(() => loadServiceCredentials(pki, 'gamma'))).code, 'PKI013');
  });

  it('check: ok, expiring, expired, missing and insecure, with an injected clock', async (t) => {
    const pki = path.join(tempDir(t), 'pki');
    const now = new Date();
    await initCa(pki, { trustDomain: TD, now: new Date(now.getTime() - 72 * HOUR) });
    await issueIdentities(pki, [service('fresh')], { trustDomain: TD, now });
    await issueIdentities(pki, [service('soon')], { trustDomain: TD, now, validityMs: 4 * HOUR });
    await issueIdentities(pki, [service('old')], { trustDomain: TD, now: new Date(now.getTime() - 48 * HOUR), validityMs: 24 * HOUR });
    await issueIdentities(pki, [service('leaky')], { trustDomain: TD, now });
    fs.chmodSync(path.join(pki, 'svc/leaky/key.pem'), 0o644);
    const rows = checkStore(pki, { now, expected: [service('fresh'), service('never')] });
    const states = Object.fromEntries(rows.map((r) => [r.label, r.state]));
    assert.deepEqual(states, {
      'ca/root': 'ok',
      'svc/fresh': 'ok',
      'svc/leaky': 'insecure',
      'svc/old': 'expired',
      'svc/soon': 'expiring',
      'svc/never': 'missing',
    });
    assert.ok((stateOf(rows, 'svc/old')?.msLeft ?? 0) < 0);
    assert.equal(stateOf(checkStore(pki, { now, thresholdMs: 2 * HOUR }), 'svc/soon')?.state, 'ok');
  });

  it('rotate re-issues only what expires within the threshold', async (t) => {
    const pki = path.join(tempDir(t), 'pki');
    await initCa(pki, { trustDomain: TD });
    await issueIdentities(pki, [service('soon')], { trustDomain: TD, validityMs: 4 * HOUR });
    await issueIdentities(pki, [service('later'), controlPlane], { trustDomain: TD, validityMs: 24 * HOUR });
    const before = snapshot(pki);
    const result = await rotate(pki, { trustDomain: TD, thresholdMs: 8 * HOUR });
    assert.deepEqual(result.rotated.map((r) => r.spiffeId), [`spiffe://${TD}/svc/soon`]);
    const after = snapshot(pki);
    assert.notEqual(after['svc/soon/key.pem'], before['svc/soon/key.pem']);
    assert.equal(after['svc/later/cert.pem'], before['svc/later/cert.pem']);
    assert.equal(after['control-plane/key.pem'], before['control-plane/key.pem']);
    assert.equal(stateOf(checkStore(pki), 'svc/soon')?.state, 'ok');
    assert.equal(modeOf(path.join(pki, 'svc/soon/key.pem')), 0o600);
  });
});
