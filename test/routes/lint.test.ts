/**
 * `routes:` in the policy language: schema, semantic rules (MESH170-173, and
 * MESH050/051 at a route's own split), the specificity order, what proxyless
 * gRPC callers cannot enforce (MESH070), and what the compiler emits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Diagnostic } from '../../src/diag/diagnostic';
import { compileMesh } from '../../src/envoy';
import { lintMesh } from '../../src/lint';
import { explainRequest } from '../../src/review/explain';
import { tempDir } from '../helpers/mesh-dir';

const SERVICES: Record<string, string> = {
  'bank.yml': 'name: bank\nversion: v1\nversions: [v1, v2]\nprotocol: http\nport: 8190\nmesh_port: 15190\ncalls: []\n',
  'payer.yml': 'name: payer\nversion: v1\nprotocol: http\nport: 8180\nmesh_port: 15180\ncalls: [bank]\n',
  'ledger.yml': 'name: ledger\nversion: v1\nprotocol: grpc\nport: 8170\ncalls: [bank]\nacknowledge: [MESH070]\n',
};

function withMesh<T>(routes: string, fn: (dir: string) => T, extra = ''): T {
  const { dir, cleanup } = tempDir('hms-routes-');
  try {
    fs.mkdirSync(path.join(dir, 'services'));
    for (const [f, text] of Object.entries(SERVICES)) fs.writeFileSync(path.join(dir, 'services', f), text);
    fs.writeFileSync(path.join(dir, 'mesh_policies.yml'), `access:\n  bank:\n    allow: [payer, ledger]\n${extra}routes:\n  bank:\n${routes}`);
    return fn(dir);
  } finally {
    cleanup();
  }
}

const lint = (routes: string, extra = ''): Diagnostic[] => withMesh(routes, (dir) => [...lintMesh(dir).diagnostics], extra);
const codes = (ds: Diagnostic[]): string[] => ds.filter((d) => d.severity !== 'info').map((d) => `${d.code}@${d.line}`);

test('a valid route list lints clean', () => {
  assert.deepEqual(codes(lint('    - name: canary\n      match:\n        headers: { x-canary: "true" }\n      split: { v2: 100 }\n')), []);
});

test('a regex RE2 refuses is MESH170 at the regex, for paths and headers; RE2-only syntax passes', () => {
  const ds = lint(
    '    - name: look\n      match:\n        path: { regex: "/a(?=b)" }\n' +
      '    - name: back\n      match:\n        headers: { x-id: { regex: "(a)\\\\1" } }\n' +
      '    - name: named\n      match:\n        path: { regex: "/(?P<id>[0-9]+)" }\n',
  );
  assert.deepEqual(codes(ds), ['MESH170@8', 'MESH170@11']);
  assert.match(ds.find((d) => d.line === 8)!.message, /path regex is not valid RE2: invalid perl operator: \(\?=/);
  assert.equal(ds.find((d) => d.line === 8)!.col, 24);
  assert.match(ds.find((d) => d.line === 11)!.message, /header x-id regex/);
});

test('a route an earlier one always wins over is MESH171, naming the winner; a narrower route below a broad one is reordered, not warned', () => {
  const ds = lint(
    '    - name: api\n      match:\n        path: { prefix: /api/ }\n' +
      '    - name: api-again\n      match:\n        path: { prefix: /api/v1 }\n        method: [GET]\n' +
      '    - name: api-copy\n      match:\n        path: { prefix: /api/ }\n',
  );
  assert.deepEqual(codes(ds), ['MESH171@13']);
  assert.match(ds.find((d) => d.code === 'MESH171')!.message, /route "api-copy" can never match: route "api" \(line 6\)/);
});

test('a route name used twice or reserved is MESH172', () => {
  const ds = lint('    - name: default\n      match: { method: [HEAD] }\n    - name: a\n      match: { method: [GET] }\n    - name: a\n      match: { method: [POST] }\n');
  assert.deepEqual(codes(ds), ['MESH172@6', 'MESH172@10']);
});

test('fault injection is a loud warning (MESH173), so --strict fails while it is on', () => {
  const ds = lint('    - name: chaos\n      match: { path: { prefix: /chaos } }\n      fault:\n        delay: { fixed: 200ms, percent: 10 }\n        abort: { status: 503, percent: 0.5 }\n');
  const w = ds.filter((d) => d.code === 'MESH173');
  assert.equal(w.length, 1);
  assert.equal(w[0]!.severity, 'warning');
  assert.match(w[0]!.message, /^FAULT INJECTION: routes\.bank\.chaos delays 10% of requests by 200ms and aborts 0\.5% of requests with 503/);
});

test("a route's own split is checked like a callee's: MESH050 (sum), MESH051 (unknown version)", () => {
  const ds = lint('    - name: c\n      match: { method: [GET] }\n      split: { v2: 50, v3: 40 }\n');
  assert.deepEqual(codes(ds), ['MESH050@8', 'MESH051@8']);
});

test('schema: a path with two kinds, a pseudo-header and an unknown key are refused with positions', () => {
  const ds = lint('    - name: c\n      match:\n        path: { prefix: /a, exact: /b }\n        headers: { ":path": x }\n      weight: 3\n');
  assert.ok(ds.some((d) => d.code === 'MESH020' && d.line === 10), JSON.stringify(ds));
  assert.ok(ds.filter((d) => d.severity === 'error').length >= 3, JSON.stringify(ds.map((d) => `${d.code}@${d.line} ${d.message}`)));
});

test('proxyless gRPC callers: a method match and a fault are gaps (MESH070) at their lines', () => {
  const ds = withMesh('    - name: m\n      match: { method: [GET] }\n      fault: { abort: { status: 500, percent: 1 } }\n', (dir) => lintMesh(dir).diagnostics);
  const gaps = ds.filter((d) => d.code === 'MESH070' && d.message.includes('routes.bank.m'));
  assert.deepEqual(gaps.map((d) => d.line).sort(), [7, 8]);
  assert.ok(gaps.some((d) => /every gRPC call is a POST; without POST the route can never match/.test(d.message)));
});

test('compiled: routes most specific first, each its own clusters, retries and timeout; the fault filter only where a route injects one', () => {
  withMesh(
    '    - name: broad\n      match: { path: { prefix: / }, headers: { x-canary: "true" } }\n      split: { v2: 100 }\n' +
      '    - name: exact\n      match: { path: { exact: /health } }\n      timeout: 1s\n      retries: { attempts: 0 }\n' +
      '    - name: chaos\n      match: { path: { prefix: /chaos/ } }\n      fault: { abort: { status: 503, percent: 25 } }\n',
    (dir) => {
      const loaded = lintMesh(dir);
      assert.ok(loaded.model);
      const compiled = compileMesh(loaded.model!);
      const payer = compiled.nodes.find((n) => n.id === 'payer')!;
      const rc = payer.resources.routes.find((r) => r['name'] === 'outbound')!;
      const routes = (rc['virtual_hosts'] as { routes: Record<string, unknown>[] }[])[0]!.routes;
      assert.deepEqual(routes.map((r) => r['name']), ['exact', 'chaos', 'broad', 'default']);
      const exact = routes[0]!['route'] as Record<string, unknown>;
      assert.equal(exact['timeout'], '1s');
      assert.equal(exact['retry_policy'], undefined);
      assert.equal((routes[2]!['route'] as Record<string, unknown>)['cluster'], 'outbound|bank|v2');
      assert.ok(payer.resources.clusters.some((c) => c['name'] === 'outbound|bank|v2'), 'the route split brought its cluster');
      const fault = (routes[1]!['typed_per_filter_config'] as Record<string, Record<string, unknown>>)['envoy.filters.http.fault']!;
      assert.deepEqual(fault['abort'], { http_status: 503, percentage: { numerator: 250000, denominator: 'MILLION' } });
      const outbound = JSON.stringify(payer.resources.listeners.find((l) => String(l['name']).startsWith('outbound'))!);
      assert.match(outbound, /envoy\.filters\.http\.fault/);
      assert.match(outbound, /fault-injected/);
      const bank = compiled.nodes.find((n) => n.id === 'bank')!;
      assert.doesNotMatch(JSON.stringify(bank.resources.listeners), /envoy\.filters\.http\.fault/, 'a node without fault routes has no fault filter');
      const ledger = compiled.nodes.find((n) => n.id === 'ledger')!;
      assert.doesNotMatch(JSON.stringify(ledger.resources), /envoy\.filters\.http\.fault/, 'proxyless callers get no fault');
      const e = explainRequest({ model: loaded.model!, compiled }, 'payer', 'bank', { path: '/chaos/1', headers: { 'x-canary': 'true' } });
      assert.equal(e.route?.route, 'chaos');
      assert.equal(e.route?.fault?.abort?.percent.value, 25);
      assert.equal(e.route?.rule?.line, 13);
      assert.match(e.reason, /FAULT INJECTION on route chaos: 25% aborted with 503/);
      const canary = explainRequest({ model: loaded.model!, compiled }, 'payer', 'bank', { path: '/x', headers: { 'x-canary': 'true' } });
      assert.deepEqual(canary.route?.clusters.map((c) => c.name), ['outbound|bank|v2']);
    },
  );
});
