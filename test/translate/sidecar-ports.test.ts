import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ceqModel } from './fixture-model';
import { nodeOf } from './helpers';

/** examples/ceq with impact-calc's manifest setting `sidecar: { outbound_port: 16001, admin_port: 16000 }`. */
function withSidecarPorts() {
  const base = ceqModel();
  return {
    ...base,
    services: base.services.map((s) => (s.name === 'impact-calc' ? { ...s, outboundPort: 16001, adminPort: 16000 } : s)),
  };
}

test('sidecar ports: a manifest override moves that node\'s outbound listener, its route domains and its admin port', () => {
  const ic = nodeOf(withSidecarPorts(), 'impact-calc');
  assert.equal(ic.outbound.listenerName, 'outbound|16001');
  assert.equal(ic.outbound.port, 16001);
  assert.equal(ic.outbound.address, '127.0.0.1');
  assert.equal(ic.bootstrap.adminPort, 16000);
  // The app calls its own sidecar, so the Host it may send carries the caller's outbound port.
  const gp = ic.outbound.virtualHosts.find((v) => v.service === 'grant-pay')!;
  assert.deepEqual(gp.domains, ['grant-pay', 'grant-pay.svc', 'grant-pay.svc:16001', 'grant-pay:16001']);
  for (const vh of ic.outbound.virtualHosts) assert.ok(vh.domains.every((d) => !d.endsWith(':15001')), vh.domains.join(','));
});

test('sidecar ports: the other nodes keep the mesh defaults', () => {
  const model = withSidecarPorts();
  for (const name of ['grant-pay', 'public-docs']) {
    const n = nodeOf(model, name);
    assert.equal(n.outbound.listenerName, 'outbound|15001');
    assert.equal(n.outbound.port, 15001);
    assert.equal(n.bootstrap.adminPort, 15000);
  }
  // Without the override, impact-calc is what it always was.
  const plain = nodeOf(ceqModel(), 'impact-calc');
  assert.equal(plain.outbound.port, 15001);
  assert.equal(plain.bootstrap.adminPort, 15000);
  assert.ok(plain.outbound.virtualHosts.find((v) => v.service === 'grant-pay')!.domains.includes('grant-pay:15001'));
});
