/**
 * The tap's admin endpoints on an in-process control plane: a proxyless
 * member posts its own records (the node is its certificate's), admins
 * query them; other roles are refused before a body is read.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { adminRequest } from '../../src/xds/admin-client';
import { TapReporter } from '../../src/sdk/tap';
import { PACKAGE_ROOT } from '../../src/paths';
import type { RunningControlPlane } from '../../src/xds/serve';
import type { TapRecord } from '../../src/tap/record';
import { identityTls, makePki, startTestPlane, tmp } from '../helpers/control-plane';
import { copyExample } from '../helpers/mesh-dir';

describe('tap admin API', () => {
  let running: RunningControlPlane;
  let pki: string;
  let mesh: { dir: string; cleanup: () => void };
  const url = (): string => `https://127.0.0.1:${running.ports.admin}`;
  before(async () => {
    mesh = copyExample('ceq');
    pki = await makePki(tmp('hms-tap-pki-'), 'ceq.gov', ['impact-calc', 'grant-pay', 'public-docs', 'citizen-gw']);
    running = await startTestPlane({ meshDir: mesh.dir, pkiDir: pki });
  });
  after(async () => {
    await running?.stop();
    mesh?.cleanup();
  });

  test('a member posts its calls with the SDK; the records are its certificate\'s, whatever the body says', async () => {
    const files = { chain: path.join(pki, 'svc', 'impact-calc', 'chain.pem'), key: path.join(pki, 'svc', 'impact-calc', 'key.pem'), trustBundle: path.join(pki, 'trust-bundle.pem') };
    const tap = new TapReporter({ adminUrl: url(), trustDomain: 'ceq.gov', files });
    tap.record({ direction: 'outbound', peer: 'grant-pay', trace_id: 'sdk-1', start_ms: 1000, duration_ms: 12, method: 'POST', path: '/Payout', status: 200, node: 'grant-pay' } as never);
    await tap.flush();
    assert.equal(tap.sent, 1);
    const r = await adminRequest<{ records: TapRecord[] }>({ server: url(), tls: identityTls(pki, 'admin/ops') }, 'GET', '/v1/tap/records?trace=sdk-1');
    assert.equal(r.status, 200);
    assert.equal(r.body.records.length, 1);
    const rec = r.body.records[0]!;
    assert.equal(rec.node, 'impact-calc');
    assert.equal(rec.caller, 'spiffe://ceq.gov/svc/impact-calc');
    assert.equal(rec.callee, 'spiffe://ceq.gov/svc/grant-pay');
  });

  test('records are for admins only; posting needs a service identity; bad input is a coded 400', async () => {
    const asSvc = { server: url(), tls: identityTls(pki, 'svc/grant-pay') };
    const asAdmin = { server: url(), tls: identityTls(pki, 'admin/ops') };
    assert.equal((await adminRequest(asSvc, 'GET', '/v1/tap/records')).status, 403);
    assert.equal((await adminRequest(asAdmin, 'POST', '/v1/tap/records', { records: [] })).status, 403);
    const bad = await adminRequest<{ code?: string }>(asSvc, 'POST', '/v1/tap/records', { records: [{ direction: 'sideways' }] });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'MESH152');
    const badQuery = await adminRequest<{ code?: string }>(asAdmin, 'GET', '/v1/tap/records?since=yesterday');
    assert.equal(badQuery.status, 400);
    assert.equal(badQuery.body.code, 'MESH151');
  });

  test('/metrics carries the tap series with a node label', async () => {
    const m = await adminRequest<string>({ server: url(), tls: identityTls(pki, 'admin/ops') }, 'GET', '/metrics');
    assert.match(m.body, /^hms_tap_records_total\{node="impact-calc"\} 1$/m);
    assert.match(m.body, /^hms_tap_store_records 1$/m);
    assert.match(m.body, /^hms_tap_requests_total\{caller="impact-calc",callee="grant-pay",status_class="2xx"\} 1$/m);
  });

  test('TapReporter is exported by the package entry (package.json main) and posts through it', async () => {
    // The entry as a user of the package gets it: package.json's `main`, resolved from the package root.
    const entry = require(PACKAGE_ROOT) as typeof import('../../src');
    assert.equal(entry.TapReporter, TapReporter);
    const files = { chain: path.join(pki, 'svc', 'grant-pay', 'chain.pem'), key: path.join(pki, 'svc', 'grant-pay', 'key.pem'), trustBundle: path.join(pki, 'trust-bundle.pem') };
    const tap = new entry.TapReporter({ adminUrl: url(), trustDomain: 'ceq.gov', files });
    tap.record({ direction: 'inbound', peer: 'impact-calc', trace_id: 'sdk-entry-1', start_ms: 2000, duration_ms: 3, method: 'POST', path: '/Payout', status: 200 });
    await tap.flush();
    assert.equal(tap.sent, 1);
    const r = await adminRequest<{ records: TapRecord[] }>({ server: url(), tls: identityTls(pki, 'admin/ops') }, 'GET', '/v1/tap/records?trace=sdk-entry-1');
    assert.equal(r.body.records[0]?.node, 'grant-pay');
  });
});
