/**
 * `mesh explain` must agree with the data plane. For every ordered pair of a
 * small proxyless mesh, the offline answer (access decision, route or no
 * route, verdict) is compared with what the real grpc-js-xds members do:
 * RBAC on the callee's XdsServer, and whether the caller's xDS config holds a
 * route to the callee (a real xds:/// call where it does).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMesh } from '../../src/envoy/compile';
import { dialWithIdentity } from '../../src/lab/direct-dial';
import { lintMesh } from '../../src/lint';
import { explainRequest } from '../../src/review/explain';
import { meshClient, startMember, startMesh, type Member } from './harness';

test('mesh explain agrees with the live proxyless data plane for every caller/callee pair', { timeout: 120_000 }, async (t) => {
  const mesh = await startMesh({
    services: {
      alpha: 'version: v1\nprotocol: grpc\nport: 9101\ncalls: [beta, gamma]\n',
      beta: 'version: v1\nprotocol: grpc\nport: 9102\ncalls: [gamma]\n',
      gamma: 'version: v1\nprotocol: grpc\nport: 9103\ncalls: []\n',
      delta: 'version: v1\nprotocol: grpc\nport: 9104\ncalls: []\n',
    },
    // delta may call gamma but declares no call: allowed by RBAC, yet it has no route.
    policies: 'access:\n  beta:\n    allow: [alpha]\n  gamma:\n    allow: [alpha, beta, delta]\n  delta:\n    allow: []\n',
  });
  t.after(() => mesh.stop());
  const members = new Map<string, Member>();
  for (const s of ['alpha', 'beta', 'gamma', 'delta']) members.set(s, await startMember(mesh, { service: s, version: 'v1' }));
  await mesh.settled();

  const { model } = lintMesh(mesh.dir);
  const compiled = compileMesh(model!, { pkiDir: mesh.pkiDir });
  const seen: string[] = [];
  for (const caller of members.keys()) {
    for (const callee of members.keys()) {
      if (caller === callee) continue;
      const ex = explainRequest({ model: model!, compiled }, caller, callee, { method: 'POST', path: '/ceq.GrantPay/Payout' });
      // 1. The callee's RBAC, as its XdsServer enforces it for the caller's certificate.
      const live = (await dialWithIdentity(mesh.pkiDir, caller, callee, members.get(callee)!.port)).code;
      assert.equal(live, ex.access.decision === 'allow' ? 'OK' : 'PERMISSION_DENIED', `${caller} -> ${callee}: explain says ${ex.access.decision}, the server said ${live}`);
      // 2. The caller's route: its served config has the callee's API listener iff explain found a route.
      const hasListener = mesh.cp.cache.get(caller)!.types.listeners.resources.has(callee);
      assert.equal(hasListener, ex.route !== undefined, `${caller} -> ${callee}: explain route ${ex.route ? 'present' : 'absent'}, served listener ${hasListener}`);
      // 3. Where explain says allowed, a real call by name through xDS succeeds.
      if (ex.verdict === 'allowed') {
        const answer = await meshClient(mesh, caller, callee).call();
        assert.equal(answer.code, 'OK', `${caller} -> ${callee}: ${answer.details ?? ''}`);
      } else {
        assert.ok(ex.access.decision === 'deny' || ex.route === undefined, `${caller} -> ${callee}: ${ex.verdict} without a reason`);
      }
      seen.push(`${caller}->${callee}:${ex.verdict}`);
    }
  }
  // The mesh was built to cover every verdict.
  const verdicts = new Set(seen.map((s) => s.split(':')[1]));
  assert.ok(verdicts.has('allowed') && verdicts.has('denied') && verdicts.has('no-route'), seen.join(' '));
  assert.equal(seen.filter((s) => s.endsWith(':allowed')).length, 3, seen.join(' '));
});
