/**
 * `guardrails:` in the policy language: schema, semantic rules (MESH190,
 * MESH191), what proxyless gRPC members cannot enforce (MESH070), and what
 * the compiler emits (the Lua filter only on nodes with rules, per callee).
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
  'grant-pay.yml': 'name: grant-pay\nversion: v1\nprotocol: http\nport: 8380\nmesh_port: 15380\ncalls: [clearinghouse, docs]\n',
  'docs.yml': 'name: docs\nversion: v1\nprotocol: http\nport: 8370\nmesh_port: 15370\ncalls: []\n',
  'ledger.yml': 'name: ledger\nversion: v1\nprotocol: grpc\nport: 8360\ncalls: [docs]\n',
};
const BASE =
  'externals:\n  clearinghouse:\n    host: clearinghouse.example.gov\n    port: 443\n    tls:\n      ca_file: ca.pem\n' +
  'access:\n  clearinghouse:\n    allow: [grant-pay]\n  docs:\n    allow: [grant-pay, ledger]\n';

function withMesh<T>(guardrails: string, fn: (dir: string) => T): T {
  const { dir, cleanup } = tempDir('hms-guardrail-');
  try {
    fs.mkdirSync(path.join(dir, 'services'));
    for (const [f, text] of Object.entries(SERVICES)) fs.writeFileSync(path.join(dir, 'services', f), text);
    fs.writeFileSync(path.join(dir, 'mesh_policies.yml'), `${BASE}guardrails:\n${guardrails}`);
    return fn(dir);
  } finally {
    cleanup();
  }
}
const lint = (g: string): Diagnostic[] => withMesh(g, (dir) => [...lintMesh(dir).diagnostics]);
const codes = (ds: Diagnostic[]): string[] => ds.filter((d) => d.severity !== 'info' && !(d.code === 'MESH070' && d.line === 3)).map((d) => `${d.code}@${d.line}`);

test('a rule on the sidecar services lints clean; one covering a proxyless member is MESH070 at the rule', () => {
  assert.deepEqual(codes(lint('  pii:\n    from: [grant-pay]\n    detect: [us_ssn]\n')), []);
  const ds = lint('  pii:\n    detect: [us_ssn, card_number]\n');
  assert.deepEqual(codes(ds), ['MESH070@14']);
  assert.match(ds.find((d) => d.code === 'MESH070' && d.line === 14)!.message, /guardrail pii/);
});

test('unknown services in from: are MESH190, unknown callees in to: MESH191; external systems count as callees', () => {
  const ds = lint('  pii:\n    from: [grant-py]\n    to: [clearinghouse, dosc]\n    detect: [us_ssn]\n');
  assert.deepEqual(codes(ds), ['MESH190@14', 'MESH191@15']);
  assert.match(ds.find((d) => d.code === 'MESH190')!.message, /did you mean "grant-pay"/);
});

test('schema: an unknown detector, a window over 1 MiB, an unknown fail policy are refused with positions', () => {
  const ds = lint('  pii:\n    from: [grant-pay]\n    detect: [iban]\n    max_body_bytes: 2000000\n    fail: maybe\n');
  const lines = ds.filter((d) => d.severity === 'error').map((d) => d.line).sort();
  assert.deepEqual([...new Set(lines)], [15, 16, 17], JSON.stringify(ds.map((d) => `${d.code}@${d.line} ${d.message}`)));
});

test('compiled: the Lua filter only on covered nodes, before the router; a script per selected callee, others disabled; the 413 mapper and log fields', () => {
  withMesh('  pii:\n    from: [grant-pay]\n    to: external\n    detect: [us_ssn, card_number]\n    max_body_bytes: 2048\n    fail: open\n', (dir) => {
    const loaded = lintMesh(dir);
    assert.ok(loaded.model);
    const compiled = compileMesh(loaded.model!);
    const payer = compiled.nodes.find((n) => n.id === 'grant-pay')!;
    const outbound = payer.resources.listeners.find((l) => String(l['name']).startsWith('outbound'))!;
    const text = JSON.stringify(outbound);
    const filters = [...text.matchAll(/"name":"(envoy\.filters\.http\.[a-z_]+)"/g)].map((m) => m[1]);
    assert.deepEqual(filters.slice(-2), ['envoy.filters.http.lua', 'envoy.filters.http.router']);
    assert.match(text, /"guardrail_blocked":"%DYNAMIC_METADATA\(mesh.guardrail:rule\)%"/);
    assert.match(text, /"status_code":403/);
    const rc = payer.resources.routes.find((r) => r['name'] === 'outbound')!;
    const vhs = rc['virtual_hosts'] as { name: string; typed_per_filter_config?: Record<string, Record<string, unknown>> }[];
    const lua = (name: string) => vhs.find((v) => v.name === name)!.typed_per_filter_config!['envoy.filters.http.lua']!;
    assert.deepEqual(lua('docs'), { '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.LuaPerRoute', disabled: true });
    const script = (lua('external|clearinghouse')['source_code'] as { inline_string: string }).inline_string;
    assert.match(script, /local CALLER, CALLEE, EXTERNAL = "grant-pay", "clearinghouse", true/);
    assert.match(script, /\{ name = "pii", card_number = true, us_ssn = true, headers = true, body = true, window = 2048, closed = false \}/);
    const docs = compiled.nodes.find((n) => n.id === 'docs')!;
    assert.doesNotMatch(JSON.stringify(docs.resources), /envoy\.filters\.http\.lua|guardrail/, 'a node without rules compiles as before');
  });
});
