/**
 * The guardrail's verdict through the tap: an HTTPAccessLogEntry whose dynamic
 * metadata carries `mesh.guardrail` (as the Lua filter sets it), encoded and
 * decoded with Envoy's protos as the AccessLogService does, becomes a record
 * with the verdict and one coalesced mesh.guardrail_blocked event naming rule,
 * caller and callee; what matched in a header is blanked from the record.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EventBus } from '../../src/events/bus';
import type { MeshEvent } from '../../src/events/cloudevent';
import { RecordEvents } from '../../src/events/derive';
import { recordOfEntry } from '../../src/tap/envoy-entry';
import { flagWords, type TapRecord } from '../../src/tap/record';
import { envoyRoot } from '../../src/validate/proto-registry';

const SENDER = { node: 'grant-pay', spiffeId: 'spiffe://t.test/svc/grant-pay', trustDomain: 't.test' };
const SSN = '078-05-1120';

/** An entry as Envoy sends it, through protobuf and back (the metadata is a Struct on the wire). */
function wireEntry(fields: Record<string, string | boolean> | undefined, req: Record<string, unknown> = {}): Record<string, unknown> {
  const type = envoyRoot().lookupType('envoy.service.accesslog.v3.StreamAccessLogsMessage');
  const value = (v: string | boolean) => (typeof v === 'boolean' ? { boolValue: v } : { stringValue: v });
  const metadata = fields ? { filter_metadata: { 'mesh.guardrail': { fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, value(v)])) } } } : undefined;
  const entry = {
    common_properties: { ...(metadata ? { metadata } : {}), start_time: { seconds: 100 } },
    request: { authority: 'clearinghouse', path: '/clear', request_method: 3, request_id: 'trace-1', ...req },
    response: { response_code: { value: 403 }, response_code_details: 'lua_response' },
  };
  const msg = type.fromObject({ identifier: { node: { id: 'grant-pay' }, log_name: 'hms-outbound' }, http_logs: { log_entry: [entry] } });
  const decoded = type.decode(type.encode(msg).finish()) as unknown as { http_logs: { log_entry: Array<Record<string, unknown>> } };
  return decoded.http_logs.log_entry[0]!;
}

function derive(): { events: MeshEvent[]; observe: (r: Omit<TapRecord, 'seq'>) => void } {
  const bus = new EventBus('/hms-svc/t', 0);
  const events: MeshEvent[] = [];
  bus.onEvent((e) => events.push(e));
  const d = new RecordEvents(bus, 20);
  let seq = 0;
  return { events, observe: (r) => d.observe({ ...r, seq: ++seq }) };
}

describe('mesh.guardrail_blocked from the tap', () => {
  test('a refusal to an external system: the record carries the verdict, the event names rule, caller and callee', () => {
    const r = recordOfEntry(wireEntry({ rule: 'no-pii-export', reason: 'body', callee: 'clearinghouse', external: true }), 'outbound', SENDER);
    assert.deepEqual(r.guardrail, { rule: 'no-pii-export', reason: 'body', callee: 'clearinghouse', external: true });
    assert.equal(r.callee, '', 'an external system has no SPIFFE id');
    assert.ok(flagWords(r).includes('refused by guardrail no-pii-export (body)'));
    const { events, observe } = derive();
    observe(r);
    assert.equal(events.length, 1);
    const e = events[0]!;
    assert.equal(e.type, 'mesh.guardrail_blocked');
    assert.equal(e.subject, 'grant-pay->clearinghouse/no-pii-export');
    assert.equal(e.data.rule, 'no-pii-export');
    assert.equal(e.data.reason, 'body');
    assert.equal(e.data.caller, 'spiffe://t.test/svc/grant-pay');
    assert.equal(e.data.callee, 'clearinghouse');
    assert.equal(e.data.callee_external, true);
    assert.equal(e.data.status, 403);
  });

  test('a refusal to a mesh service that was never routed gets the callee\'s SPIFFE id from the verdict', () => {
    const r = recordOfEntry(wireEntry({ rule: 'no-pii', reason: 'over-window', callee: 'bank', external: false }), 'outbound', SENDER);
    assert.equal(r.callee, 'spiffe://t.test/svc/bank');
    const { events, observe } = derive();
    observe(r);
    assert.equal(events[0]!.data.callee, 'spiffe://t.test/svc/bank');
    assert.equal(events[0]!.data.callee_external, false);
  });

  test('the header that matched is named, and what the record would keep of it is blanked', () => {
    const inPath = recordOfEntry(wireEntry({ rule: 'no-pii', reason: 'header', callee: 'bank', external: false, header: ':path' }, { path: `/clear?ssn=${SSN}` }), 'outbound', SENDER);
    assert.equal(inPath.path, '');
    assert.equal(inPath.guardrail?.header, ':path');
    const inId = recordOfEntry(wireEntry({ rule: 'no-pii', reason: 'header', callee: 'bank', external: false, header: 'x-request-id' }, { request_id: `ssn ${SSN}` }), 'outbound', SENDER);
    assert.equal(inId.traceId, '');
    const inAuthority = recordOfEntry(wireEntry({ rule: 'no-pii', reason: 'header', callee: 'bank', external: false, header: ':authority' }, { authority: SSN }), 'outbound', SENDER);
    assert.equal(inAuthority.authority, '');
    const { events, observe } = derive();
    for (const r of [inPath, inId, inAuthority]) {
      assert.doesNotMatch(JSON.stringify(r), new RegExp(SSN));
      observe(r);
    }
    assert.doesNotMatch(JSON.stringify(events), new RegExp(SSN));
    assert.equal(events[0]!.data.header, ':path');
  });

  test('no verdict, a malformed one, or an inbound record: no event', () => {
    const { events, observe } = derive();
    const plain = recordOfEntry(wireEntry(undefined), 'outbound', SENDER);
    assert.equal(plain.guardrail, undefined);
    observe(plain);
    const bad = recordOfEntry(wireEntry({ rule: 'Not A Name', reason: 'body', callee: 'bank' }), 'outbound', SENDER);
    assert.equal(bad.guardrail, undefined);
    observe(bad);
    observe(recordOfEntry(wireEntry({ rule: 'no-pii', reason: 'body', callee: 'bank' }), 'inbound', SENDER));
    assert.equal(events.length, 0);
  });

  test('a burst on one pair and rule is one event with a count', async () => {
    const bus = new EventBus('/hms-svc/t', 30);
    const events: MeshEvent[] = [];
    bus.onEvent((e) => events.push(e));
    const d = new RecordEvents(bus, 20);
    const r = recordOfEntry(wireEntry({ rule: 'no-pii-export', reason: 'body', callee: 'clearinghouse', external: true }), 'outbound', SENDER);
    for (let i = 0; i < 3; i++) d.observe({ ...r, seq: i + 1 });
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(events.length, 1);
    assert.equal(events[0]!.data.count, 3);
  });
});
