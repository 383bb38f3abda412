/**
 * `externals:` in the policy language: schema, semantic rules (MESH180,
 * MESH182, and MESH040/042/043 as for services), what proxyless gRPC callers
 * cannot enforce (MESH070), and what the compiler emits for a call to one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Diagnostic } from '../../src/diag/diagnostic';
import { compileMesh } from '../../src/envoy';
import { lintMesh } from '../../src/lint';
import { tempDir } from '../helpers/mesh-dir';

const SERVICES: Record<string, string> = {
  'grant-pay.yml': 'name: grant-pay\nversion: v1\nprotocol: http\nport: 8380\nmesh_port: 15380\ncalls: [clearinghouse]\n',
  'impact-calc.yml': 'name: impact-calc\nversion: v1\nprotocol: http\nport: 8370\nmesh_port: 15370\ncalls: []\n',
  'ledger.yml': 'name: ledger\nversion: v1\nprotocol: grpc\nport: 8360\ncalls: [clearinghouse]\n',
};

const EXTERNAL =
  'externals:\n  clearinghouse:\n    host: clearinghouse.example.gov\n    port: 443\n    tls:\n      ca_file: certs/ca.pem\n';

function withMesh<T>(policies: string, fn: (dir: string) => T, services = SERVICES): T {
  const { dir, cleanup } = tempDir('hms-externals-');
  try {
    fs.mkdirSync(path.join(dir, 'services'));
    for (const [f, text] of Object.entries(services)) fs.writeFileSync(path.join(dir, 'services', f), text);
    fs.writeFileSync(path.join(dir, 'mesh_policies.yml'), policies);
    return fn(dir);
  } finally {
    cleanup();
  }
}

const lint = (policies: string, services = SERVICES): Diagnostic[] => withMesh(policies, (dir) => [...lintMesh(dir).diagnostics], services);
const codes = (ds: Diagnostic[]): string[] => ds.filter((d) => d.severity !== 'info').map((d) => `${d.code}@${d.line}`);
const ALLOWED = `${EXTERNAL}access:\n  clearinghouse:\n    allow: [grant-pay, ledger]\n`;

test('a declared, allowed call to an external system lints clean but for the proxyless caller (MESH070 at its calls: line)', () => {
  const ds = lint(ALLOWED);
  // Line 3 is the proxyless member's usual control-plane gap; line 5 is its calls: line.
  assert.deepEqual(codes(ds), ['MESH070@3', 'MESH070@5']);
  const gap = ds.find((d) => d.code === 'MESH070' && d.line === 5)!;
  assert.equal(gap.file.endsWith('ledger.yml'), true, gap.file);
  assert.match(gap.message, /external system clearinghouse/);
});

test('default deny: a call to an external system its access does not allow is MESH043; no access at all, likewise', () => {
  assert.deepEqual(codes(lint(`${EXTERNAL}access:\n  clearinghouse:\n    allow: [ledger]\n`)).filter((c) => c.startsWith('MESH043')), ['MESH043@6']);
  assert.deepEqual(codes(lint(EXTERNAL)).filter((c) => c.startsWith('MESH043')).length, 2);
});

test('an unknown caller in an external system\'s access is MESH042; an undeclared callee is still MESH040', () => {
  const ds = lint(`${EXTERNAL}access:\n  clearinghouse:\n    allow: [grant-pay, ledger, grant-py]\n`);
  assert.ok(codes(ds).includes('MESH042@9'), JSON.stringify(codes(ds)));
  const noDecl = lint('access: {}\n');
  assert.ok(codes(noDecl).includes('MESH040@6'), JSON.stringify(codes(noDecl)));
});

test('an external system named like a service is MESH180 at its declaration', () => {
  const ds = lint(`${EXTERNAL}  impact-calc:\n    host: x.example.gov\n    port: 443\n    tls: { ca_file: ca.pem }\naccess:\n  clearinghouse:\n    allow: [grant-pay, ledger]\n`);
  assert.ok(codes(ds).includes('MESH180@8'), JSON.stringify(codes(ds)));
});

test('sections without meaning for an external system are MESH182 at the key; timeouts and retries are accepted', () => {
  const ds = lint(`${ALLOWED}timeouts:\n  clearinghouse:\n    request: 2s\ntraffic:\n  clearinghouse:\n    split: { v1: 100 }\n`);
  assert.deepEqual(codes(ds).filter((c) => !c.startsWith('MESH070')), ['MESH182@14']);
});

test('schema: tls is required, host must be a DNS name, an unknown key is refused', () => {
  const ds = lint('externals:\n  clearinghouse:\n    host: Clearing_House\n    port: 443\n    proxy: true\n');
  const errs = ds.filter((d) => d.severity === 'error');
  assert.ok(errs.length >= 3, JSON.stringify(errs.map((d) => `${d.code}@${d.line} ${d.message}`)));
  assert.ok(errs.every((d) => d.line >= 2 && d.line <= 5), JSON.stringify(errs.map((d) => d.line)));
});

test('compiled: the allowed caller gets a virtual host rewriting Host and a cluster originating verified TLS; others get neither', () => {
  withMesh(`${ALLOWED}timeouts:\n  clearinghouse:\n    request: 2s\n`, (dir) => {
    const loaded = lintMesh(dir);
    assert.ok(loaded.model);
    const compiled = compileMesh(loaded.model!);
    const payer = compiled.nodes.find((n) => n.id === 'grant-pay')!;
    const rc = payer.resources.routes.find((r) => r['name'] === 'outbound')!;
    const vh = (rc['virtual_hosts'] as Record<string, unknown>[]).find((v) => v['name'] === 'external|clearinghouse')!;
    assert.ok((vh['domains'] as string[]).includes('clearinghouse'));
    assert.ok((vh['domains'] as string[]).includes('clearinghouse.example.gov:443'));
    const route = (vh['routes'] as Record<string, Record<string, unknown>>[])[0]!['route']!;
    assert.equal(route['host_rewrite_literal'], 'clearinghouse.example.gov');
    assert.equal(route['timeout'], '2s');
    const cluster = payer.resources.clusters.find((c) => c['name'] === 'external|clearinghouse')!;
    assert.equal(cluster['type'], 'LOGICAL_DNS');
    const tls = JSON.stringify(cluster['transport_socket']);
    assert.match(tls, /"sni":"clearinghouse.example.gov"/);
    assert.match(tls, /"trusted_ca":\{"filename":"certs\/ca.pem"\}/);
    assert.match(tls, /"match_typed_subject_alt_names":\[\{"san_type":"DNS","matcher":\{"exact":"clearinghouse.example.gov"\}\}\]/);
    assert.doesNotMatch(tls, /tls_certificate/, 'no mesh client certificate is sent outside the mesh');
    const impact = compiled.nodes.find((n) => n.id === 'impact-calc')!;
    assert.doesNotMatch(JSON.stringify(impact.resources), /clearinghouse/);
    const ledger = compiled.nodes.find((n) => n.id === 'ledger')!;
    assert.doesNotMatch(JSON.stringify(ledger.resources), /external\|clearinghouse/, 'proxyless callers get no external cluster');
  });
});
