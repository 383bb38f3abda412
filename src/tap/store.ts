/**
 * The tap's bounded store of recent records: at most `maxRecords` records and
 * `maxBytes` bytes (TapRecord.size), the oldest dropped first, every drop
 * counted. Queryable by trace id (indexed), service and time; `after` is the
 * cursor of a follower (records with a larger seq).
 */
import { serviceOfSpiffeId, type TapRecord } from './record';

export interface StoreLimits {
  readonly maxRecords: number;
  readonly maxBytes: number;
}

/** 100,000 records or 64 MiB, whichever comes first: minutes of a busy small mesh. */
export const DEFAULT_STORE_LIMITS: StoreLimits = { maxRecords: 100_000, maxBytes: 64 * 1024 * 1024 };
/** The most records one query returns. */
export const MAX_QUERY_RECORDS = 10_000;

export interface RecordQuery {
  readonly traceId?: string;
  /** Records where this service called or was called. */
  readonly service?: string;
  /** Request start, ms since the epoch, inclusive. */
  readonly sinceMs?: number;
  readonly untilMs?: number;
  /** Only records with seq > after. */
  readonly after?: number;
  readonly limit?: number;
}

export class TapStore {
  /** A ring: records[head..] then records[..head] would be wasteful; a plain array with a moving start is simpler and O(1) amortized. */
  private records: TapRecord[] = [];
  private start = 0;
  private readonly byTrace = new Map<string, TapRecord[]>();
  private nextSeq = 1;
  bytes = 0;
  dropped = 0;
  droppedBytes = 0;
  private readonly listeners = new Set<(r: TapRecord) => void>();

  constructor(readonly limits: StoreLimits = DEFAULT_STORE_LIMITS) {}

  get size(): number {
    return this.records.length - this.start;
  }

  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  /** Stores a record (its seq is assigned here) and tells the listeners. */
  add(r: Omit<TapRecord, 'seq'>): TapRecord {
    const rec = r as TapRecord;
    rec.seq = this.nextSeq++;
    this.records.push(rec);
    this.bytes += rec.size;
    if (rec.traceId) {
      const list = this.byTrace.get(rec.traceId);
      if (list) list.push(rec);
      else this.byTrace.set(rec.traceId, [rec]);
    }
    while (this.size > this.limits.maxRecords || (this.bytes > this.limits.maxBytes && this.size > 1)) this.evictOldest();
    for (const l of this.listeners) l(rec);
    return rec;
  }

  onRecord(listener: (r: TapRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private evictOldest(): void {
    const old = this.records[this.start]!;
    this.records[this.start] = undefined as unknown as TapRecord;
    this.start++;
    this.bytes -= old.size;
    this.dropped++;
    this.droppedBytes += old.size;
    if (old.traceId) {
      const list = this.byTrace.get(old.traceId);
      if (list) {
        list.shift();
        if (list.length === 0) this.byTrace.delete(old.traceId);
      }
    }
    // Compact once the dead prefix is as long as the live part: amortized O(1) per record.
    if (this.start > 1024 && this.start * 2 > this.records.length) {
      this.records = this.records.slice(this.start);
      this.start = 0;
    }
  }

  /** Matching records, oldest first, at most `limit` (the newest ones when more match). */
  query(q: RecordQuery): TapRecord[] {
    const limit = Math.min(q.limit ?? MAX_QUERY_RECORDS, MAX_QUERY_RECORDS);
    const source = q.traceId !== undefined ? this.byTrace.get(q.traceId) ?? [] : this.records.slice(this.start);
    const out: TapRecord[] = [];
    for (let i = source.length - 1; i >= 0 && out.length < limit; i--) {
      const r = source[i]!;
      if (q.after !== undefined && r.seq <= q.after) break;
      if (matches(r, q)) out.push(r);
    }
    return out.reverse();
  }
}

function matches(r: TapRecord, q: RecordQuery): boolean {
  if (q.sinceMs !== undefined && r.startMs < q.sinceMs) return false;
  if (q.untilMs !== undefined && r.startMs > q.untilMs) return false;
  if (q.service !== undefined && r.node !== q.service && serviceOfSpiffeId(r.caller) !== q.service && serviceOfSpiffeId(r.callee) !== q.service) return false;
  return true;
}
