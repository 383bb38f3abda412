/** Events derived from tap records: out-of-order records (one buffer per Envoy worker), a timeout both sidecars saw, UH without a cluster. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EventBus } from '../../src/events/bus';
import type { MeshEvent } from '../../src/events/cloudevent';
import { RecordEvents } from '../../src/events/derive';
import { recordOfEntry } from '../../src/tap/envoy-entry';
import type { TapRecord } from '../../src/tap/record';
import { rec } from '../tap/records';

function world(): { events: MeshEvent[]; derive: RecordEvents; feed: (...rs: Array<Partial<TapRecord>>) => void } {
  const bus = new EventBus('/hms-svc/t', 0);
  const events: MeshEvent[] = [];
  bus.onEvent((e) => events.push(e));
  const derive = new RecordEvents(bus, 20);
  let seq = 0;
  return { events, derive, feed: (...rs) => rs.forEach((r) => derive.observe({ ...rec(r), seq: ++seq })) };
}
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 60));
const UH = { status: 503, flags: ['UH'], upstreamHost: '', upstreamCluster: '', details: 'no_healthy_upstream' };
const FAIL = { status: 500, upstreamHost: '10.0.0.7:15090' };

describe('RecordEvents', () => {
  test('failures arriving after the UH that they caused still name the instance; late records do not flip the state', async () => {
    const { events, feed } = world();
    feed({ ...FAIL, startMs: 100, traceId: 'f2' }, { ...UH, startMs: 200, traceId: 'open' }, { ...FAIL, startMs: 90, traceId: 'f1', upstreamHost: '10.0.0.8:15090' }, { ...FAIL, startMs: 110, traceId: 'f3' });
    await settle();
    assert.deepEqual(events.map((e) => e.type), ['mesh.circuit_open']);
    assert.equal(events[0]!.data.instance, '10.0.0.7:15090', 'the latest failure before the opening');
    // A late 500 of before the opening does not close it; a late UH of before the closing does not reopen it.
    feed({ ...FAIL, startMs: 150, traceId: 'late' });
    assert.equal(events.length, 1);
    feed({ startMs: 3000, traceId: 'back' }, { ...UH, startMs: 2500, traceId: 'late-uh' });
    await settle();
    assert.deepEqual(events.map((e) => e.type), ['mesh.circuit_open', 'mesh.circuit_closed']);
    assert.equal(events[1]!.data.instance, '127.0.0.1:15090');
    feed({ ...UH, startMs: 4000, traceId: 'again' });
    await settle();
    assert.deepEqual(events.map((e) => e.type), ['mesh.circuit_open', 'mesh.circuit_closed', 'mesh.circuit_open'], 'a new opening after the closing');
    assert.notEqual(events[2]!.id, events[0]!.id);
  });

  test('closing within the grace sends the opening first', () => {
    const { events, feed } = world();
    feed({ ...FAIL, startMs: 100 }, { ...UH, startMs: 200 }, { startMs: 300 });
    assert.deepEqual(events.map((e) => e.type), ['mesh.circuit_open', 'mesh.circuit_closed']);
  });

  test('a timeout is one event per request, whichever sidecar (or both) timed out', () => {
    const { events, feed } = world();
    feed({ traceId: 'a', status: 504, flags: ['UT'] });
    feed({ traceId: 'b', node: 'bank', direction: 'inbound', status: 504, flags: ['UT'] }, { traceId: 'b', status: 504 });
    feed({ traceId: 'c', status: 504, flags: ['UT'] }, { traceId: 'c', node: 'bank', direction: 'inbound', status: 504, flags: ['UT'] });
    assert.deepEqual(events.map((e) => `${e.type} ${e.subject} ${(e.data.trace_ids as string[]).join()}`), ['mesh.timeout payer->bank a', 'mesh.timeout payer->bank b', 'mesh.timeout payer->bank c']);
  });

  test('an outbound UH entry without upstream_cluster (what Envoy sends) is attributed to the authority it was routed by', () => {
    const sender = { node: 'payer', spiffeId: 'spiffe://t.test/svc/payer', trustDomain: 't.test' };
    const entry = (flags: Record<string, boolean>, authority: string) => ({ common_properties: { response_flags: flags }, request: { authority, path: '/' }, response: { response_code: { value: 503 } } });
    assert.equal(recordOfEntry(entry({ no_healthy_upstream: true }, 'bank:80'), 'outbound', sender).callee, 'spiffe://t.test/svc/bank');
    assert.equal(recordOfEntry(entry({}, 'bank'), 'outbound', sender).callee, '', 'only for UH/UO: no cluster otherwise means no route');
    assert.equal(recordOfEntry(entry({ no_healthy_upstream: true }, 'Bad_Name'), 'outbound', sender).callee, '');
  });
});
