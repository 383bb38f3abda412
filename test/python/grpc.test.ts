/**
 * The Python SDK's gRPC side against a real control plane (`mesh serve` in
 * process, test/e2e/harness.ts, on a copy of examples/ceq-grpc): the real
 * grpcio, through `svcmesh.client("grant-pay")`, gets a channel to
 * xds:///grant-pay from the bootstrap `mesh build` wrote, finds the TypeScript
 * grant-pay (an XdsServer) by EDS and pays it over the mesh's mTLS: the
 * handler sees impact-calc's SPIFFE ID, which only a client certificate can
 * give it, and the trace id the SDK's channel added.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { memberEnv } from '../../src/compose/member-env';
import { runCommand } from '../../src/compose/runtime';
import { buildOutputTree } from '../../src/envoy/output';
import { compileMesh } from '../../src/envoy/compile';
import { ProcessGroup } from '../../src/lab/processes';
import { lintMesh } from '../../src/lint';
import { PACKAGE_ROOT } from '../../src/paths';
import { freePorts, startExampleMesh } from '../e2e/harness';
import { assertVenv, PYTHON, venvSkip } from './venv';

const APPS = path.join(__dirname, '..', '..', 'examples', 'ceq', 'apps', 'grpc'); // compiled, under dist/
const CLIENT = path.join(PACKAGE_ROOT, 'test', 'python', 'grpc_payout.py');

test('Python gRPC: svcmesh.client gives a grpcio xds:/// channel that pays the TypeScript grant-pay over the mesh mTLS, with a trace id', { skip: venvSkip(), timeout: 120_000 }, async (t) => {
  assertVenv();
  const mesh = await startExampleMesh('ceq-grpc');
  t.after(() => mesh.stop());
  const model = lintMesh(mesh.dir).model!;
  for (const [rel, text] of buildOutputTree(compileMesh(model))) {
    fs.mkdirSync(path.dirname(path.join(mesh.dir, 'out', rel)), { recursive: true });
    fs.writeFileSync(path.join(mesh.dir, 'out', rel), text);
  }
  const procs = new ProcessGroup(mesh.dir);
  mesh.track(() => procs.stopAll());
  // Both versions: the example's canary split sends 10% of calls to v2, and a
  // proxyless client routed to a version with no instance fails the call.
  const [p1, p2] = await freePorts(2);
  const payers = {
    v1: procs.start('grant-pay-v1', [path.join(APPS, 'grant-pay.js')], { HMS_MESH_DIR: mesh.dir, VERSION: 'v1', PORT: String(p1) }),
    v2: procs.start('grant-pay-v2', [path.join(APPS, 'grant-pay.js')], { HMS_MESH_DIR: mesh.dir, VERSION: 'v2', PORT: String(p2) }),
  };
  await payers.v1.waitFor(/^grant-pay v1 serving on 0\.0\.0\.0:/, 30_000, 'serving line');
  await payers.v2.waitFor(/^grant-pay v2 serving on 0\.0\.0\.0:/, 30_000, 'serving line');

  const env = { ...process.env, ...memberEnv(model, 'impact-calc', { version: 'v1' }) };
  delete env.GRPC_XDS_BOOTSTRAP;
  delete env.GRPC_XDS_BOOTSTRAP_CONFIG;
  const r = await runCommand([PYTHON, CLIENT], { cwd: mesh.dir, env, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `grpc_payout.py failed:\n${r.stdout}${r.stderr.slice(-4000)}`);
  const m = /^Status: OK Trace: ([0-9a-f]{32}) \(grant-pay (v1|v2), ok=True\)$/m.exec(r.stdout);
  assert.ok(m, r.stdout);
  const ach = await payers[m[2] as 'v1' | 'v2'].waitFor((l) => l.text.startsWith('[ACH]'), 5000, 'ACH line');
  assert.equal(ach.text, `[ACH] paying $200000 for HWY-94 (caller spiffe://ceq.gov/svc/impact-calc, trace ${m[1]})`);
  assert.deepEqual(mesh.cp.registry.of('impact-calc'), [], 'impact-calc deregistered when it finished');
});
