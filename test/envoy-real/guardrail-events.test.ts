/**
 * The guardrail's refusals as mesh events, with real Envoy: grant-pay's
 * sidecar refuses (403) a body carrying an SSN to the external system
 * clearinghouse (a local TLS server stands in); its Lua filter leaves the
 * verdict in the request's dynamic metadata, which Envoy's gRPC access log
 * carries to the control plane's tap, which derives mesh.guardrail_blocked.
 * Exactly one event per refusal arrives at a real webhook receiver naming
 * rule, caller and callee, and the SSN is nowhere in the event nor in the
 * tap's record; an SSN in the path is blanked from the record too.
 *
 * The mesh is fixtures/guardrail (guardrail.test.ts checks the refusals
 * themselves); the webhook sink is added to its mesh.yml and applied.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MeshEvent } from '../../src/events/cloudevent';
import type { TapRecord } from '../../src/tap/record';
import { adminRequest } from '../../src/xds/admin-client';
import { adminClient, applyAndWait, eventually, runningSkip } from './harness';
import { receiver } from './receiver';
import { outboundPost, standInSuite, type Seen } from './stand-in';

const MESH = path.join(__dirname, '..', '..', '..', 'test', 'envoy-real', 'fixtures', 'guardrail');
const SSN = '078-05-1120';
const SSN_PATTERN = /078-05-1120|078051120/;
const GRANT_PAY = 'spiffe://guardrail.test/svc/grant-pay';

describe('real Envoy (local): the guardrail\'s refusals as mesh.guardrail_blocked', { concurrency: 1, skip: runningSkip('local', undefined, undefined, MESH) }, () => {
  const seen: Seen[] = [];
  const setup = standInSuite(MESH, ['clearinghouse', 'registry'], seen);
  const rx = receiver();
  const port = (): number => setup().runtime.nodes.find((n) => n.node === 'grant-pay')!.outboundPort;
  const client = async () => adminClient(setup().pkiDir, await setup().runtime.controlPlaneAdminUrl());
  const blocked = (): MeshEvent[] => [...new Map(rx.got.filter((e) => e.type === 'mesh.guardrail_blocked').map((e) => [e.id, e])).values()];
  const tapRecords = async (): Promise<TapRecord[]> => {
    const r = await adminRequest<{ records: TapRecord[] }>(await client(), 'GET', '/v1/tap/records?service=grant-pay&limit=10000');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.records;
  };

  before(async () => {
    await rx.start();
    fs.appendFileSync(path.join(setup().runtime.meshDir, 'mesh.yml'), `events:\n  coalesce: 1s\n  sinks:\n    - webhook: http://127.0.0.1:${rx.port}/events\n`);
    await applyAndWait(setup());
    await eventually('grant-pay -> clearinghouse answers 200', 30_000, async () => ((await outboundPost(port(), 'clearinghouse', '{}')).status === 200 ? true : undefined));
  }, { timeout: 120_000 });
  after(() => rx.stop());

  test('a body carrying an SSN: 403, one event naming rule, caller and callee; the SSN neither in the event nor in the tap record', { timeout: 90_000 }, async () => {
    const before = seen.length;
    const r = await outboundPost(port(), 'clearinghouse', JSON.stringify({ name: 'A. Citizen', ssn: SSN }), { path: '/clear/pii-body' });
    assert.equal(r.status, 403, JSON.stringify(r));
    assert.equal(r.guardrail, 'no-pii-export');
    assert.equal(seen.length, before, 'nothing reached the external system');
    const record = await eventually('the refusal in the tap', 20_000, async () => (await tapRecords()).find((x) => x.path === '/clear/pii-body' && x.guardrail));
    assert.equal(record.node, 'grant-pay');
    assert.equal(record.direction, 'outbound');
    assert.equal(record.status, 403);
    assert.deepEqual(record.guardrail, { rule: 'no-pii-export', reason: 'body', callee: 'clearinghouse', external: true });
    assert.doesNotMatch(JSON.stringify(record), SSN_PATTERN);
    const [e] = await eventually('mesh.guardrail_blocked at the receiver', 20_000, async () => (blocked().length ? blocked() : undefined));
    assert.equal(e!.specversion, '1.0');
    assert.equal(e!.subject, 'grant-pay->clearinghouse/no-pii-export');
    assert.equal(e!.data.rule, 'no-pii-export');
    assert.equal(e!.data.reason, 'body');
    assert.equal(e!.data.caller, GRANT_PAY);
    assert.equal(e!.data.callee, 'clearinghouse');
    assert.equal(e!.data.callee_external, true);
    assert.equal(e!.data.count, 1);
    assert.deepEqual(e!.data.trace_ids, [record.traceId]);
    assert.doesNotMatch(JSON.stringify(e), SSN_PATTERN);
    // Exactly one: a clean request after it (its record behind the refusal's) brings no second event.
    assert.equal((await outboundPost(port(), 'clearinghouse', '{"usd": 1}', { path: '/clear/clean' })).status, 200);
    await eventually('the clean request in the tap', 20_000, async () => ((await tapRecords()).some((x) => x.path === '/clear/clean') ? true : undefined));
    await new Promise((res) => setTimeout(res, 1500)); // past the 1 s coalescing window: a second event would have been sent
    assert.equal(blocked().length, 1, JSON.stringify(blocked()));
    assert.equal(rx.got.filter((x) => x.type === 'mesh.guardrail_blocked').length, 1, 'delivered once');
  });

  test('an SSN in the path: the event names the header (:path), the record has no path, the SSN is nowhere', { timeout: 90_000 }, async () => {
    const r = await outboundPost(port(), 'clearinghouse', '{}', { path: `/clear/lookup?ssn=${SSN}` });
    assert.equal(r.status, 403, JSON.stringify(r));
    const record = await eventually('the refusal in the tap', 20_000, async () => (await tapRecords()).find((x) => x.guardrail?.header === ':path'));
    assert.equal(record.path, '');
    assert.equal(record.guardrail?.reason, 'header');
    assert.doesNotMatch(JSON.stringify(await tapRecords()), SSN_PATTERN, 'no record of the tap holds the SSN');
    const e = await eventually('the second mesh.guardrail_blocked', 20_000, async () => blocked().find((x) => x.data.header === ':path'));
    assert.equal(e.data.reason, 'header');
    assert.equal(e.data.caller, GRANT_PAY);
    assert.doesNotMatch(JSON.stringify(rx.got), SSN_PATTERN);
  });
});
