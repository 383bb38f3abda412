/**
 * Per caller -> callee pair (services, from the caller's outbound records:
 * what the calling app saw): requests, successes and latency, in one-second
 * buckets over the last MAX_WINDOW_S seconds (`mesh stat`), and cumulative
 * counters and histograms for /metrics. Pairs are bounded (MAX_PAIRS; the
 * rest are summed as other -> other), so the label sets are too.
 */
import { LATENCY_BUCKETS_MS } from '../xds/metrics';
import { serviceOfSpiffeId, type TapRecord } from './record';

export const MAX_WINDOW_S = 300;
export const MAX_PAIRS = 500;
/** Finer buckets for the window's quantiles than Prometheus needs: ms, roughly x1.25 apart, up to 60 s. */
const Q_BUCKETS: number[] = (() => {
  const b: number[] = [];
  for (let v = 1; v < 60_000; v = Math.max(v + 1, Math.round(v * 1.25))) b.push(v);
  b.push(60_000);
  return b;
})();

interface Second {
  sec: number;
  requests: number;
  successes: number;
  hist: Uint32Array;
}

class Pair {
  readonly seconds: Second[] = [];
  total = 0;
  readonly byClass = new Map<string, number>();
  readonly promCounts = new Array<number>(LATENCY_BUCKETS_MS.length).fill(0);
  promSum = 0;

  observe(r: TapRecord, nowSec: number): void {
    let s = this.seconds[this.seconds.length - 1];
    if (!s || s.sec !== nowSec) {
      s = { sec: nowSec, requests: 0, successes: 0, hist: new Uint32Array(Q_BUCKETS.length) };
      this.seconds.push(s);
      while (this.seconds.length > 0 && this.seconds[0]!.sec <= nowSec - MAX_WINDOW_S) this.seconds.shift();
    }
    s.requests++;
    if (isSuccess(r)) s.successes++;
    s.hist[bucketOf(r.durationMs)]!++;
    this.total++;
    const cls = r.status === 0 ? 'none' : `${Math.floor(r.status / 100)}xx`;
    this.byClass.set(cls, (this.byClass.get(cls) ?? 0) + 1);
    for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) if (r.durationMs <= LATENCY_BUCKETS_MS[i]!) this.promCounts[i]!++;
    this.promSum += r.durationMs;
  }
}

/** Success as Linkerd counts it: a response that is not a 5xx (and not none at all). */
export function isSuccess(r: Pick<TapRecord, 'status'>): boolean {
  return r.status > 0 && r.status < 500;
}

function bucketOf(ms: number): number {
  let lo = 0;
  let hi = Q_BUCKETS.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (Q_BUCKETS[mid]! >= ms) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export interface PairStat {
  readonly caller: string;
  readonly callee: string;
  readonly requests: number;
  readonly rps: number;
  /** 0..1, or null without requests. */
  readonly successRate: number | null;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

export class PairStats {
  private readonly pairs = new Map<string, Pair>();

  constructor(private readonly now: () => number = Date.now) {}

  observe(r: TapRecord): void {
    if (r.direction !== 'outbound') return;
    const caller = serviceOfSpiffeId(r.caller) || r.node;
    const callee = serviceOfSpiffeId(r.callee);
    if (!callee) return;
    let key = `${caller}\u0000${callee}`;
    let p = this.pairs.get(key);
    if (!p) {
      if (this.pairs.size >= MAX_PAIRS) key = 'other\u0000other';
      p = this.pairs.get(key) ?? new Pair();
      this.pairs.set(key, p);
    }
    p.observe(r, Math.floor(this.now() / 1000));
  }

  /** Every pair with requests in the last `windowS` seconds (1..MAX_WINDOW_S), sorted by caller then callee. */
  window(windowS: number): PairStat[] {
    const w = Math.max(1, Math.min(MAX_WINDOW_S, Math.floor(windowS)));
    const from = Math.floor(this.now() / 1000) - w + 1;
    const out: PairStat[] = [];
    for (const [key, p] of [...this.pairs.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const [caller, callee] = key.split('\u0000') as [string, string];
      const hist = new Uint32Array(Q_BUCKETS.length);
      let requests = 0;
      let successes = 0;
      for (const s of p.seconds) {
        if (s.sec < from) continue;
        requests += s.requests;
        successes += s.successes;
        for (let i = 0; i < hist.length; i++) hist[i]! += s.hist[i]!;
      }
      if (requests === 0) continue;
      out.push({ caller, callee, requests, rps: Math.round((requests / w) * 100) / 100, successRate: successes / requests, p50Ms: quantile(hist, requests, 0.5), p99Ms: quantile(hist, requests, 0.99) });
    }
    return out;
  }

  renderMetrics(): string[] {
    const lines = ['# HELP hms_tap_requests_total Requests per caller -> callee pair (the caller\'s outbound records) and status class.', '# TYPE hms_tap_requests_total counter'];
    const sorted = [...this.pairs.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    const labels = (key: string): string => {
      const [caller, callee] = key.split('\u0000');
      return `caller="${caller}",callee="${callee}"`;
    };
    for (const [key, p] of sorted) for (const [cls, n] of [...p.byClass.entries()].sort()) lines.push(`hms_tap_requests_total{${labels(key)},status_class="${cls}"} ${n}`);
    lines.push('# HELP hms_tap_request_duration_ms Request duration per caller -> callee pair, as the caller\'s sidecar measured it.', '# TYPE hms_tap_request_duration_ms histogram');
    for (const [key, p] of sorted) {
      LATENCY_BUCKETS_MS.forEach((b, i) => lines.push(`hms_tap_request_duration_ms_bucket{${labels(key)},le="${b}"} ${p.promCounts[i]}`));
      lines.push(`hms_tap_request_duration_ms_bucket{${labels(key)},le="+Inf"} ${p.total}`, `hms_tap_request_duration_ms_sum{${labels(key)}} ${p.promSum}`, `hms_tap_request_duration_ms_count{${labels(key)}} ${p.total}`);
    }
    return lines;
  }
}

/** The upper bound of the bucket holding the q-th request: never below the true value. */
function quantile(hist: Uint32Array, n: number, q: number): number {
  const rank = Math.max(1, Math.ceil(q * n));
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i]!;
    if (seen >= rank) return Q_BUCKETS[i]!;
  }
  return Q_BUCKETS[Q_BUCKETS.length - 1]!;
}
