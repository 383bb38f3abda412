/** A TapRecord for tests: payer -> bank, outbound, 200, with fields overridden. */
import { recordSize, type TapRecord } from '../../src/tap/record';

export function rec(over: Partial<TapRecord> = {}): Omit<TapRecord, 'seq'> {
  const r = {
    node: 'payer',
    direction: 'outbound' as const,
    traceId: 't1',
    startMs: 1000,
    durationMs: 5,
    method: 'GET',
    authority: 'bank',
    path: '/pay',
    status: 200,
    flags: [] as string[],
    upstreamCluster: 'outbound|bank',
    upstreamHost: '127.0.0.1:15090',
    caller: 'spiffe://t.test/svc/payer',
    callee: 'spiffe://t.test/svc/bank',
    details: 'via_upstream',
    ...over,
  };
  return { ...r, size: recordSize(r) };
}
