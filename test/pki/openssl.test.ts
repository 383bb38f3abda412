/**
 * OpenSSL, not our own code, judges the certificates: every issued chain must
 * pass `openssl verify -x509_strict` for the TLS purposes it claims, and
 * certificates from another CA or past their notAfter must fail.
 */
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { admin, controlPlane, credentialPaths, Identity, initCa, issueIdentities, service } from '../../src/pki';
import { HOUR, opensslText, opensslVerify, TD } from './helpers';

const IDENTITIES: Identity[] = [service('alpha'), service('beta'), admin('ops'), controlPlane];

for (const intermediate of [false, true]) {
  describe(`openssl verify (${intermediate ? 'intermediate' : 'root'} signs the leaves)`, () => {
    let root: string;
    let pki: string;
    before(async () => {
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-pki-openssl-'));
      pki = path.join(root, 'pki');
      await initCa(pki, { trustDomain: TD, intermediate });
      await issueIdentities(pki, IDENTITIES, { trustDomain: TD });
    });
    after(() => fs.rmSync(root, { recursive: true, force: true }));

    const untrusted = (): string[] => (intermediate ? ['-untrusted', path.join(pki, 'ca/intermediate.crt')] : []);

    it('verifies every leaf for both sslserver and sslclient purposes', () => {
      for (const id of IDENTITIES) {
        const files = credentialPaths(id);
        for (const purpose of ['sslserver', 'sslclient']) {
          const r = opensslVerify(['-x509_strict', '-purpose', purpose, '-CAfile', path.join(pki, files.trustBundle), ...untrusted(), path.join(pki, files.cert)]);
          assert.ok(r.ok, `${files.cert} (${purpose}): ${r.output}`);
        }
      }
    });

    it('verifies every leaf from what a peer receives: chain.pem against the trust bundle alone', () => {
      for (const id of IDENTITIES) {
        const files = credentialPaths(id);
        const chain = path.join(pki, files.chain);
        const r = opensslVerify(['-x509_strict', '-CAfile', path.join(pki, files.trustBundle), '-untrusted', chain, path.join(pki, files.cert)]);
        assert.ok(r.ok, `${files.chain}: ${r.output}`);
      }
    });

    if (intermediate) {
      it('does not verify a leaf without its intermediate (chain.pem carries it for a reason)', () => {
        const files = credentialPaths(service('alpha'));
        const r = opensslVerify(['-CAfile', path.join(pki, files.trustBundle), path.join(pki, files.cert)]);
        assert.equal(r.ok, false);
        assert.match(r.output, /unable to get local issuer certificate/);
      });
    }

    it('writes the profile openssl expects: SANs, critical key usage, both EKUs, CA:FALSE', () => {
      const text = opensslText(path.join(pki, credentialPaths(service('alpha')).cert));
      assert.match(text, /URI:spiffe:\/\/test\.mesh\/svc\/alpha, DNS:alpha, DNS:alpha\.svc/);
      assert.match(text, /Key Usage: critical\s+Digital Signature, Key Encipherment/);
      assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
      assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
      assert.match(text, /Public-Key: \(2048 bit\)/);
      const cp = opensslText(path.join(pki, credentialPaths(controlPlane).cert));
      assert.match(cp, /URI:spiffe:\/\/test\.mesh\/control-plane, DNS:localhost, IP Address:127\.0\.0\.1/);
      const ops = opensslText(path.join(pki, credentialPaths(admin('ops')).cert));
      assert.match(ops, /X509v3 Subject Alternative Name: \s+URI:spiffe:\/\/test\.mesh\/admin\/ops\n/);
    });

    it('gives leaves 24 hours and the CA one year by default', () => {
      const leaf = new crypto.X509Certificate(fs.readFileSync(path.join(pki, 'svc/alpha/cert.pem')));
      const ca = new crypto.X509Certificate(fs.readFileSync(path.join(pki, 'ca/ca.crt')));
      const leafSpan = Date.parse(leaf.validTo) - Date.now();
      assert.ok(Math.abs(leafSpan - 24 * HOUR) < 5 * 60_000, `leaf lifetime ${leafSpan}`);
      const caSpan = Date.parse(ca.validTo) - Date.now();
      assert.ok(Math.abs(caSpan - 365 * 24 * HOUR) < 5 * 60_000, `CA lifetime ${caSpan}`);
    });
  });
}

describe('openssl verify rejects', () => {
  let root: string;
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-pki-openssl-bad-'));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('a certificate issued by another CA', async () => {
    const ours = path.join(root, 'ours');
    const theirs = path.join(root, 'theirs');
    await initCa(ours, { trustDomain: TD });
    await initCa(theirs, { trustDomain: TD });
    await issueIdentities(theirs, [service('alpha')], { trustDomain: TD });
    const r = opensslVerify(['-CAfile', path.join(ours, 'trust-bundle.pem'), path.join(theirs, 'svc/alpha/cert.pem')]);
    assert.equal(r.ok, false);
    assert.match(r.output, /unable to get local issuer certificate/);
  });

  it('an expired certificate (issued with a clock in the past)', async () => {
    const pki = path.join(root, 'expired');
    const past = (hours: number): Date => new Date(Date.now() - hours * HOUR);
    await initCa(pki, { trustDomain: TD, now: past(72) });
    await issueIdentities(pki, [service('alpha')], { trustDomain: TD, now: past(48), validityMs: 24 * HOUR });
    const r = opensslVerify(['-CAfile', path.join(pki, 'trust-bundle.pem'), path.join(pki, 'svc/alpha/cert.pem')]);
    assert.equal(r.ok, false);
    assert.match(r.output, /certificate has expired/);
  });
});
