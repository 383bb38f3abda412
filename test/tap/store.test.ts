import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TapStore } from '../../src/tap/store';
import { rec } from './records';


test('the count cap drops the oldest first and counts every drop', () => {
  const s = new TapStore({ maxRecords: 3, maxBytes: 1e9 });
  for (let i = 0; i < 5; i++) s.add(rec({ traceId: `t${i}` }));
  assert.equal(s.size, 3);
  assert.equal(s.dropped, 2);
  assert.deepEqual(s.query({}).map((r) => r.traceId), ['t2', 't3', 't4']);
  assert.deepEqual(s.query({ traceId: 't0' }), [], 'the trace index forgets dropped records');
});

test('the byte cap holds: bytes never above it after an add, oldest dropped', () => {
  const one = rec({ traceId: 'x000' }).size;
  const s = new TapStore({ maxRecords: 1000, maxBytes: one * 4 + 1 });
  for (let i = 0; i < 100; i++) {
    s.add(rec({ traceId: `x${String(i).padStart(3, '0')}` }));
    assert.ok(s.bytes <= one * 4 + 1);
  }
  assert.equal(s.size, 4);
  assert.equal(s.dropped, 96);
  assert.equal(s.droppedBytes, 96 * one);
});

test('queries: by trace id, by service (caller, callee or reporter), by time, after a cursor, with a limit', () => {
  const s = new TapStore({ maxRecords: 100, maxBytes: 1e9 });
  s.add(rec({ traceId: 'a', startMs: 1 }));
  s.add(rec({ traceId: 'a', node: 'bank', direction: 'inbound', startMs: 2 }));
  s.add(rec({ traceId: 'b', startMs: 3, caller: 'spiffe://t.test/svc/x', callee: 'spiffe://t.test/svc/y', node: 'x' }));
  assert.deepEqual(s.query({ traceId: 'a' }).map((r) => r.seq), [1, 2]);
  assert.deepEqual(s.query({ service: 'y' }).map((r) => r.seq), [3]);
  assert.deepEqual(s.query({ service: 'bank' }).map((r) => r.seq), [1, 2]);
  assert.deepEqual(s.query({ sinceMs: 2, untilMs: 2 }).map((r) => r.seq), [2]);
  assert.deepEqual(s.query({ after: 1 }).map((r) => r.seq), [2, 3]);
  assert.deepEqual(s.query({ limit: 2 }).map((r) => r.seq), [2, 3], 'the newest when the limit cuts');
});

test('many records through a small store: compaction keeps order and the index', () => {
  const s = new TapStore({ maxRecords: 100, maxBytes: 1e9 });
  for (let i = 0; i < 10_000; i++) s.add(rec({ traceId: `t${i % 150}` }));
  assert.equal(s.size, 100);
  const seqs = s.query({}).map((r) => r.seq);
  assert.equal(seqs[0], 9901);
  assert.equal(seqs[99], 10_000);
  assert.equal(s.query({ traceId: 't50' }).length, 1);
  assert.equal(s.query({ traceId: 't149' }).length, 0, 'dropped with its records');
});
