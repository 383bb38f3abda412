/**
 * `gateways:` in the policy language: schema, the conflicts lint rejects with
 * both positions (MESH220-229, each with a case), and what the compiler emits
 * for a gateway node (public listener by SNI, routes by host and path, mTLS
 * upstream clusters with the gateway's identity, the callee's RBAC letting
 * it in).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import forge from 'node-forge';
import type { Diagnostic } from '../../src/diag/diagnostic';
import { compileMesh } from '../../src/envoy';
import { lintMesh } from '../../src/lint';
import { tempDir } from '../helpers/mesh-dir';

const SERVICES: Record<string, string> = {
  'public-docs.yml': 'name: public-docs\nversion: v1\nprotocol: http\nport: 8083\nmesh_port: 15083\ncalls: []\n',
  'impact-calc.yml': 'name: impact-calc\nversion: v1\nprotocol: http\nport: 8370\nmesh_port: 15370\ncalls: [public-docs]\n',
};

const ACCESS = 'access:\n  public-docs:\n    allow: [impact-calc, citizen-gw]\n';

/** A gateway with one mesh-CA listener on 8443 for docs.ceq.gov and `routes` (YAML list items, 6 spaces deep). */
const gateway = (routes: string, listeners = LISTENER): string =>
  `gateways:\n  citizen-gw:\n    listeners:\n${listeners}    routes:\n${routes}`;
const LISTENER = '      - name: public\n        port: 8443\n        hostnames: [docs.ceq.gov]\n        tls: { mesh_ca: true }\n';
const ROUTE = '      - host: docs.ceq.gov\n        to: public-docs\n';

function withMesh<T>(policies: string, fn: (dir: string) => T, extraFiles: Record<string, string> = {}): T {
  const { dir, cleanup } = tempDir('hms-gateway-');
  try {
    fs.mkdirSync(path.join(dir, 'services'));
    for (const [f, text] of Object.entries(SERVICES)) fs.writeFileSync(path.join(dir, 'services', f), text);
    for (const [f, text] of Object.entries(extraFiles)) fs.writeFileSync(path.join(dir, f), text);
    fs.writeFileSync(path.join(dir, 'mesh_policies.yml'), policies);
    return fn(dir);
  } finally {
    cleanup();
  }
}

const lint = (policies: string, extra: Record<string, string> = {}): Diagnostic[] => withMesh(policies, (dir) => [...lintMesh(dir).diagnostics], extra);
const codes = (ds: Diagnostic[]): string[] => ds.filter((d) => d.severity !== 'info').map((d) => `${d.code}@${d.line}`);

test('a gateway routing to a service that allows it lints clean', () => {
  assert.deepEqual(codes(lint(gateway(ROUTE) + ACCESS)), []);
});

test('the schema: tls is {mesh_ca: true} or {cert_file, key_file}, never both; a route needs host and to', () => {
  const both = LISTENER.replace('tls: { mesh_ca: true }', 'tls: { mesh_ca: true, cert_file: a.pem, key_file: a.key }');
  assert.ok(codes(lint(gateway(ROUTE, both) + ACCESS)).some((c) => c.startsWith('MESH02')), 'both TLS sources refused by the schema');
  const certOnly = LISTENER.replace('tls: { mesh_ca: true }', 'tls: { cert_file: a.pem }');
  assert.ok(codes(lint(gateway(ROUTE, certOnly) + ACCESS)).some((c) => c.startsWith('MESH02')), 'a certificate without its key refused by the schema');
  assert.ok(codes(lint(gateway('      - host: docs.ceq.gov\n') + ACCESS)).some((c) => c.startsWith('MESH02')));
});

test('default deny: a route to a service whose access does not allow the gateway is MESH226, naming the access policy position too', () => {
  const ds = lint(gateway(ROUTE) + 'access:\n  public-docs:\n    allow: [impact-calc]\n');
  assert.deepEqual(codes(ds), ['MESH226@10']);
  const d = ds[0]!;
  assert.match(d.message, /mesh_policies\.yml:12:3/, 'the access policy position is in the message');
  assert.match(d.hint ?? '', /add citizen-gw to access\.public-docs\.allow/);
  // No access policy at all: still denied, and said so.
  const none = lint(gateway(ROUTE) + 'access:\n  impact-calc:\n    allow: [public-docs]\n');
  assert.deepEqual(codes(none).filter((c) => c.startsWith('MESH226')), ['MESH226@10']);
  assert.match(none.find((x) => x.code === 'MESH226')!.message, /no access policy/);
});

test('a gateway is a known caller in access rules (no MESH042), and its name must not be a service\'s (MESH220)', () => {
  assert.equal(codes(lint(gateway(ROUTE) + ACCESS)).some((c) => c.startsWith('MESH042')), false);
  const clash = lint(gateway(ROUTE).replace('citizen-gw:', 'impact-calc:') + 'access:\n  public-docs:\n    allow: [impact-calc]\n');
  assert.deepEqual(codes(clash), ['MESH220@2']);
});

test('two listeners on one port with overlapping hostnames: MESH221 at the later hostname, naming the earlier', () => {
  const two = `${LISTENER}      - name: more\n        port: 8443\n        hostnames: [www.ceq.gov, "*.ceq.gov"]\n        tls: { mesh_ca: true }\n`;
  const ds = lint(gateway(ROUTE, two) + ACCESS);
  assert.deepEqual(codes(ds), ['MESH221@10']);
  assert.match(ds[0]!.message, /"\*\.ceq\.gov".*overlapping "docs\.ceq\.gov" at .*mesh_policies\.yml:6:/);
  // The same hostnames on another port are fine; a wildcard covers one label only.
  assert.deepEqual(codes(lint(gateway(ROUTE, two.replace('port: 8443\n        hostnames: [www', 'port: 9443\n        hostnames: [www')) + ACCESS)), []);
  const deeper = `${LISTENER}      - name: more\n        port: 8443\n        hostnames: ["*.docs.ceq.gov"]\n        tls: { mesh_ca: true }\n`;
  assert.deepEqual(codes(lint(gateway(ROUTE, deeper) + ACCESS)), []);
});

test('two routes with the same match: MESH222 at the second, naming the first', () => {
  const ds = lint(gateway(`${ROUTE}      - host: docs.ceq.gov\n        path: { prefix: / }\n        to: public-docs\n`) + ACCESS);
  assert.deepEqual(codes(ds), ['MESH222@11']);
  assert.match(ds[0]!.message, /already declared at .*mesh_policies\.yml:9:/);
  // Same path, prefix against exact: different matches.
  assert.deepEqual(codes(lint(gateway(`${ROUTE}      - host: docs.ceq.gov\n        path: { exact: / }\n        to: public-docs\n`) + ACCESS)), []);
});

test('a hostname on two gateways on the same port: MESH225', () => {
  const second = '  kiosk-gw:\n    listeners:\n      - name: kiosk\n        port: 8443\n        hostnames: [docs.ceq.gov]\n        tls: { mesh_ca: true }\n    routes:\n      - host: docs.ceq.gov\n        to: public-docs\n';
  const ds = lint(gateway(ROUTE) + second + 'access:\n  public-docs:\n    allow: [impact-calc, citizen-gw, kiosk-gw]\n');
  assert.deepEqual(codes(ds), ['MESH225@15']);
  assert.match(ds[0]!.message, /gateway "citizen-gw" too .*mesh_policies\.yml:6:/);
});

test('routes to an unknown service (MESH227), for a host no listener serves (MESH228); listener names unique (MESH229)', () => {
  assert.deepEqual(codes(lint(gateway('      - host: docs.ceq.gov\n        to: public-doc\n') + ACCESS)), ['MESH227@10']);
  assert.deepEqual(codes(lint(gateway('      - host: www.ceq.gov\n        to: public-docs\n') + ACCESS)), ['MESH228@9']);
  const dup = `${LISTENER}      - name: public\n        port: 9443\n        hostnames: [www.ceq.gov]\n        tls: { mesh_ca: true }\n`;
  assert.deepEqual(codes(lint(gateway(ROUTE, dup) + ACCESS)), ['MESH229@8']);
});

/** A self-signed certificate for `dns` (RSA 1024: only its names matter here). */
function certFor(dns: string[]): string {
  const keys = forge.pki.rsa.generateKeyPair(1024);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date();
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: 'commonName', value: dns[0] ?? 'none' }]);
  cert.setIssuer([{ name: 'commonName', value: dns[0] ?? 'none' }]);
  cert.setExtensions([{ name: 'subjectAltName', altNames: dns.map((value) => ({ type: 2, value })) }]);
  cert.sign(keys.privateKey);
  return forge.pki.certificateToPem(cert);
}

test('a certificate file that does not cover a declared hostname: MESH223 at the hostname; unreadable or not PEM: MESH224', () => {
  const files = (cert: string) => LISTENER.replace('tls: { mesh_ca: true }', `tls: { cert_file: ${cert}, key_file: docs.key }`).replace('[docs.ceq.gov]', '[docs.ceq.gov, www.ceq.gov]');
  const extra = { 'docs.pem': certFor(['docs.ceq.gov']), 'wild.pem': certFor(['*.ceq.gov']), 'bad.pem': 'not a certificate\n', 'docs.key': 'unused by lint\n' };
  const ds = lint(gateway(ROUTE, files('docs.pem')) + ACCESS, extra);
  assert.deepEqual(codes(ds), ['MESH223@6']);
  assert.match(ds[0]!.message, /does not cover "www\.ceq\.gov" \(its DNS names: docs\.ceq\.gov\)/);
  assert.deepEqual(codes(lint(gateway(ROUTE, files('wild.pem')) + ACCESS, extra)), [], 'a wildcard certificate covers both');
  assert.deepEqual(codes(lint(gateway(ROUTE, files('bad.pem')) + ACCESS, extra)), ['MESH224@7']);
  assert.deepEqual(codes(lint(gateway(ROUTE, files('missing.pem')) + ACCESS, extra)), ['MESH224@7']);
});

test('compiled: a gateway node with a public listener chosen by SNI, its routes ordered exact-first, upstream mTLS as itself; the callee allows it', () => {
  const routes = `${ROUTE}      - host: docs.ceq.gov\n        path: { exact: /healthz }\n        to: public-docs\n        timeout: 1s\n      - host: docs.ceq.gov\n        path: { prefix: /pdf/ }\n        to: public-docs\n`;
  withMesh(gateway(routes) + ACCESS, (dir) => {
    const loaded = lintMesh(dir);
    assert.ok(loaded.model, JSON.stringify(loaded.diagnostics));
    const out = compileMesh(loaded.model);
    const gw = out.nodes.find((n) => n.id === 'citizen-gw')!;
    assert.ok(gw.ir.gateway);
    assert.equal(gw.ir.identity.spiffeId, 'spiffe://cluster.local/svc/citizen-gw');
    const [listener] = gw.resources.listeners as any[];
    assert.equal(gw.resources.listeners.length, 1, 'no sidecar listeners on a gateway');
    assert.equal(listener.name, 'gateway|8443');
    assert.deepEqual(listener.filter_chains[0].filter_chain_match.server_names, ['docs.ceq.gov']);
    assert.equal(listener.filter_chains[0].transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].name, 'spiffe://cluster.local/svc/citizen-gw');
    assert.equal(listener.filter_chains[0].transport_socket.typed_config.require_client_certificate, undefined, 'citizens present no certificate');
    const [rc] = gw.resources.routes as any[];
    assert.deepEqual(rc.virtual_hosts[0].routes.map((r: any) => [r.match.path ?? r.match.prefix, r.route.timeout]), [['/healthz', '1s'], ['/pdf/', '15s'], ['/', '15s']]);
    const [cluster] = gw.resources.clusters as any[];
    assert.equal(cluster.name, 'outbound|public-docs');
    assert.equal(cluster.transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].name, 'spiffe://cluster.local/svc/citizen-gw');
    const docs = out.nodes.find((n) => n.id === 'public-docs')!;
    assert.ok(JSON.stringify(docs.resources.routes).includes('"allow|citizen-gw"'), 'public-docs RBAC names the gateway');
    assert.ok(gw.bootstrap, 'a bootstrap of its own');
  });
});
