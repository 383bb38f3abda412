import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PairStats, MAX_PAIRS } from '../../src/tap/pair-stats';
import type { TapRecord } from '../../src/tap/record';
import { rec } from './records';

test('mesh stat: rps, success rate (non-5xx) and p50/p99 per pair over the window; inbound records do not double count', () => {
  let now = 100_000;
  const s = new PairStats(() => now);
  for (let i = 0; i < 100; i++) s.observe({ ...rec({ durationMs: i < 98 ? 10 : 900, status: i < 90 ? 200 : 503 }), seq: i } as TapRecord);
  s.observe({ ...rec({ direction: 'inbound' }), seq: 101 } as TapRecord);
  const [p] = s.window(10);
  assert.equal(p!.caller, 'payer');
  assert.equal(p!.callee, 'bank');
  assert.equal(p!.requests, 100);
  assert.equal(p!.rps, 10);
  assert.equal(p!.successRate, 0.9);
  assert.ok(p!.p50Ms! >= 10 && p!.p50Ms! < 13, `p50 ${p!.p50Ms}`);
  assert.ok(p!.p99Ms! >= 900 && p!.p99Ms! < 1200, `p99 ${p!.p99Ms}`);
  now += 20_000;
  assert.deepEqual(s.window(10), [], 'out of the window');
  assert.equal(s.window(60)[0]!.requests, 100);
});

test('pairs are bounded: past MAX_PAIRS new pairs are summed as other -> other', () => {
  const s = new PairStats(() => 1000);
  for (let i = 0; i < MAX_PAIRS + 10; i++) s.observe({ ...rec({ callee: `spiffe://t.test/svc/s${i}` }), seq: i } as TapRecord);
  const w = s.window(10);
  assert.equal(w.length, MAX_PAIRS + 1);
  assert.equal(w.find((p) => p.caller === 'other')!.requests, 10);
  assert.equal(s.renderMetrics().filter((l) => l.startsWith('hms_tap_requests_total{')).length, MAX_PAIRS + 1);
});
