/**
 * `npm start` with real Envoy: the lab runs the chapter's story through real
 * sidecars and says so; every process it started is gone afterwards.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCommand } from '../../src/compose/runtime';
import { PACKAGE_ROOT } from '../../src/paths';
import { availability, suiteSkip } from './harness';

const LAB = path.join(PACKAGE_ROOT, 'dist', 'src', 'lab', 'main.js');

function envoysRunning(): number {
  try {
    return execFileSync('pgrep', ['-f', 'hms-lab-envoy-'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).length;
  } catch {
    return 0; // pgrep exits 1 when nothing matches
  }
}

test('npm start: the story through real Envoy sidecars (payout, trace in both access logs, circuit, 429, 403), everything stopped', { skip: suiteSkip('local'), timeout: 180_000 }, async () => {
  if (!availability.envoyBin) throw new Error(`real Envoy is required under CI=true: ${availability.local}`);
  const r = await runCommand([process.execPath, LAB], { env: { ...process.env, ENVOY_BIN: availability.envoyBin }, timeoutMs: 150_000 });
  const out = r.stdout;
  assert.equal(r.code, 0, out + r.stderr);
  assert.match(out, /through real Envoy sidecars, on one machine \(Python apps: examples\/ceq\/apps\/python\)/);
  const trace = /impact-calc \| Status: 202 Trace: (\S+)/.exec(out)?.[1];
  assert.ok(trace, out);
  // The SDK's line for the call, and the callee's own print with the same id (Flask app, svcmesh.flask).
  assert.match(out, new RegExp(`impact-calc \\| \\[TRACE ${trace.slice(0, 6)}\\] http://grant-pay/payout 202 \\d+\\.\\d{3}s`));
  assert.match(out, new RegExp(`grant-pay \\| \\[ACH\\] paying \\$200000 for HWY-94 \\(caller spiffe://ceq.gov/svc/impact-calc, trace ${trace}\\)`));
  // The circuit: 3 failed calls, then the Python app's typed outcome and the SDK's one warning line.
  const failed = /(\d+) calls before the circuit opened: \1 x 503/.exec(out);
  assert.ok(failed && Number(failed[1]) >= 3, `at least max_failures (3) failed calls before the circuit opened:\n${out}`);
  assert.match(out, /impact-calc \| svcmesh: WARNING circuit to grant-pay is OPEN/);
  assert.match(out, /impact-calc \| Mesh: CircuitOpen /);
  assert.match(out, new RegExp(`sidecar \\(outbound\\) \\| \\{.*"trace_id":"${trace}"`));
  assert.match(out, new RegExp(`sidecar \\(inbound\\)    \\| \\{.*"peer":"spiffe://ceq.gov/svc/impact-calc".*"trace_id":"${trace}"`));
  assert.match(out, /20 calls at once: \d+ x 202, \d+ x 429/);
  assert.match(out, /impact-calc's own certificate: 403/);
  assert.match(out, /same processes, same pids: yes/);
  assert.match(out, /^Done in [\d.]+ s/m);
  const secs = Number(/^Done in ([\d.]+) s/m.exec(out)![1]);
  assert.ok(secs < 90, `the lab took ${secs} s`);
  assert.equal(envoysRunning(), 0, 'no process of the lab is left running');
});
