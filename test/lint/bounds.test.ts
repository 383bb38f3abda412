/**
 * Numbers and durations Envoy would refuse (or misread) are refused by lint,
 * at their position: they used to pass lint and fail the build with an
 * unpositioned ENVOY002, and `request: 0s` compiled to *no timeout*.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lintMesh } from '../../src/lint';
import { compileMesh } from '../../src/envoy/compile';
import { copyExample } from '../helpers/mesh-dir';

function lintWith(edit: (policies: string) => string): { lines: string[]; text: string; dir: string; cleanup: () => void } {
  const { dir, cleanup } = copyExample();
  const file = path.join(dir, 'mesh_policies.yml');
  const text = edit(fs.readFileSync(file, 'utf8'));
  fs.writeFileSync(file, text);
  const lines = lintMesh(dir).diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.line}:${d.col} ${d.code} ${d.message}`);
  return { lines, text, dir, cleanup };
}

function lineOf(text: string, needle: string): number {
  return text.split('\n').findIndex((l) => l.includes(needle)) + 1;
}

const cases: [string, (t: string) => string, string, RegExp][] = [
  ['reset_seconds: 1e20', (t) => t.replace('reset_seconds: 30', 'reset_seconds: 1e20'), 'reset_seconds', /MESH023 circuit_breakers\.grant-pay\.reset_seconds must be <= 86400, not 100000000000000000000/],
  ['request: 999999999999999h', (t) => t.replace('request: 2s', 'request: 999999999999999h'), 'request: 9', /MESH062 timeouts\.grant-pay\.request is astronomically long: the longest duration the mesh takes is 8760h/],
  ['request: 9000h', (t) => t.replace('request: 2s', 'request: 9000h'), 'request: 9', /MESH062 timeouts\.grant-pay\.request is 9000h/],
  ['request: 0s', (t) => t.replace('request: 2s', 'request: 0s'), 'request: 0s', /MESH024 timeouts\.grant-pay\.request: the string "0s" is not valid: .*Envoy reads 0 as no timeout, so 0s is refused: write none/],
  ['request: 0.000ms', (t) => t.replace('request: 2s', 'request: 0.000ms'), 'request: 0.000ms', /MESH024/],
  ['per_try_timeout: 0ms', (t) => t.replace('per_try_timeout: 500ms', 'per_try_timeout: 0ms'), 'per_try_timeout', /MESH024 retries\.grant-pay\.per_try_timeout: the string "0ms" is not valid/],
  ['rps: 5000000000', (t) => t.replace('rps: 50', 'rps: 5000000000'), 'rps:', /MESH023 rate_limits\.impact-calc\.rps must be <= 4294967295/],
  ['max_failures: 99999999', (t) => t.replace('max_failures: 3', 'max_failures: 99999999'), 'max_failures', /MESH023 .*max_failures must be <= 1000000/],
];

for (const [name, edit, needle, want] of cases) {
  test(`lint refuses ${name} at its position`, () => {
    const r = lintWith(edit);
    try {
      assert.equal(r.lines.length, 1, r.lines.join('\n'));
      assert.match(r.lines[0]!, want);
      assert.ok(r.lines[0]!.startsWith(`${lineOf(r.text, needle)}:`), `${r.lines[0]} (expected line ${lineOf(r.text, needle)})`);
    } finally {
      r.cleanup();
    }
  });
}

test('request: none means no timeout, explicitly: Envoy gets route timeout 0s, and no MESH061 for a per-try timeout', () => {
  const r = lintWith((t) => t.replace('request: 2s', 'request: none'));
  try {
    assert.deepEqual(r.lines, []);
    const loaded = lintMesh(r.dir);
    assert.equal(loaded.model!.policies.find((p) => p.service === 'grant-pay')!.timeouts.requestMs.value, 0);
    assert.ok(!loaded.diagnostics.some((d) => d.code === 'MESH061'));
    const compiled = compileMesh(loaded.model!);
    const ic = compiled.nodes.find((n) => n.id === 'impact-calc')!;
    const routes = JSON.stringify(ic.resources.routes);
    const gp = (ic.resources.routes as { virtual_hosts: { domains: string[]; routes: { route?: { timeout?: string } }[] }[] }[]).flatMap((rc) => rc.virtual_hosts).find((vh) => vh.domains.some((d) => d.startsWith('grant-pay')));
    assert.ok(gp, routes);
    assert.ok(gp.routes.every((rt) => rt.route?.timeout === '0s'), JSON.stringify(gp.routes));
  } finally {
    r.cleanup();
  }
});
