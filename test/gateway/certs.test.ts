/**
 * `mesh certs` for gateways: plain `mesh certs issue` issues every gateway
 * too, its certificate carrying spiffe://<td>/svc/<gateway> and the
 * hostnames of its `tls: { mesh_ca: true }` listeners (not those of a
 * listener with its own files); `mesh certs rotate` keeps those hostnames;
 * `mesh certs issue <gateway>` takes a gateway's name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths';
import { tempDir } from '../helpers/mesh-dir';

const meshCli = (...args: string[]): string => execFileSync(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'mesh.js'), ...args], { encoding: 'utf8' });

const POLICIES = `gateways:
  citizen-gw:
    listeners:
      - name: public
        port: 8443
        hostnames: [docs.ceq.gov, "*.docs.ceq.gov"]
        tls: { mesh_ca: true }
      - name: partner
        port: 9443
        hostnames: [partner.ceq.gov]
        tls: { cert_file: partner.pem, key_file: partner.key }
    routes:
      - host: docs.ceq.gov
        to: public-docs
access:
  public-docs:
    allow: [citizen-gw]
`;

const sans = (pki: string): string => new crypto.X509Certificate(fs.readFileSync(path.join(pki, 'svc', 'citizen-gw', 'cert.pem'))).subjectAltName ?? '';

test('mesh certs issue issues the gateway with its mesh-CA hostnames; rotate keeps them', () => {
  const { dir, cleanup } = tempDir('hms-gateway-certs-');
  try {
    fs.mkdirSync(path.join(dir, 'services'));
    fs.writeFileSync(path.join(dir, 'mesh.yml'), 'trust_domain: ceq.gov\n');
    fs.writeFileSync(path.join(dir, 'services', 'public-docs.yml'), 'name: public-docs\nversion: v1\nprotocol: http\nport: 8083\ncalls: []\n');
    fs.writeFileSync(path.join(dir, 'mesh_policies.yml'), POLICIES);
    const pki = path.join(dir, 'pki');
    meshCli('certs', 'init', '--mesh', dir, '--dir', pki);
    const issued = meshCli('certs', 'issue', '--mesh', dir, '--dir', pki);
    assert.match(issued, /issued spiffe:\/\/ceq\.gov\/svc\/citizen-gw /);
    assert.match(issued, /issued spiffe:\/\/ceq\.gov\/svc\/public-docs /);
    assert.equal(sans(pki), 'URI:spiffe://ceq.gov/svc/citizen-gw, DNS:citizen-gw, DNS:citizen-gw.svc, DNS:*.docs.ceq.gov, DNS:docs.ceq.gov');
    assert.doesNotMatch(sans(pki), /partner/, 'a listener with its own certificate files adds nothing');
    const rotated = meshCli('certs', 'rotate', '--mesh', dir, '--dir', pki, '--threshold', '48h');
    assert.match(rotated, /issued spiffe:\/\/ceq\.gov\/svc\/citizen-gw /);
    assert.match(sans(pki), /DNS:\*\.docs\.ceq\.gov, DNS:docs\.ceq\.gov$/, 'rotation keeps the hostnames');
    assert.match(meshCli('certs', 'issue', 'citizen-gw', '--mesh', dir, '--dir', pki), /svc\/citizen-gw/);
    assert.match(meshCli('certs', 'check', '--mesh', dir, '--dir', pki), /svc\/citizen-gw\s+\S+\s+\S+\s+ok/);
  } finally {
    cleanup();
  }
});
