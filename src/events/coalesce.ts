/**
 * Bursts coalesced: the first occurrence of (type, subject) opens a window of
 * `windowMs`; further ones in it only count; when it closes, one event says
 * how many there were, when the first and last were, and a few trace ids.
 * A window of 0 emits every occurrence at once. Windows are keyed by their
 * start, so an event's id (cloudevent.ts) is stable for that window.
 */
export interface Occurrence {
  readonly type: string;
  readonly subject: string;
  readonly atMs: number;
  readonly traceId?: string;
  /** Fields of the event's data (the first occurrence's win). */
  readonly data: Record<string, unknown>;
}

export interface Coalesced {
  readonly type: string;
  readonly subject: string;
  readonly firstMs: number;
  readonly lastMs: number;
  readonly count: number;
  readonly traceIds: readonly string[];
  readonly data: Record<string, unknown>;
}

/** Open windows are bounded: past this many, the oldest is closed early (emitted, never lost). */
export const MAX_OPEN_WINDOWS = 10_000;
const MAX_TRACE_IDS = 5;

interface Window {
  c: { -readonly [K in keyof Coalesced]: Coalesced[K] } & { traceIds: string[] };
  timer?: NodeJS.Timeout;
}

export class Coalescer {
  private readonly open = new Map<string, Window>();

  constructor(
    private readonly windowMs: number,
    private readonly emit: (c: Coalesced) => void,
  ) {}

  add(o: Occurrence): void {
    const key = `${o.type}\u0000${o.subject}`;
    const w = this.open.get(key);
    if (w) {
      w.c.count++;
      w.c.lastMs = Math.max(w.c.lastMs, o.atMs);
      if (o.traceId && w.c.traceIds.length < MAX_TRACE_IDS) w.c.traceIds.push(o.traceId);
      return;
    }
    const c = { type: o.type, subject: o.subject, firstMs: o.atMs, lastMs: o.atMs, count: 1, traceIds: o.traceId ? [o.traceId] : [], data: o.data };
    if (this.windowMs <= 0) {
      this.emit(c);
      return;
    }
    if (this.open.size >= MAX_OPEN_WINDOWS) this.close(this.open.keys().next().value as string);
    const win: Window = { c };
    win.timer = setTimeout(() => this.close(key), this.windowMs);
    win.timer.unref();
    this.open.set(key, win);
  }

  private close(key: string): void {
    const w = this.open.get(key);
    if (!w) return;
    clearTimeout(w.timer);
    this.open.delete(key);
    this.emit(w.c);
  }

  /** Closes every open window now (shutdown). */
  flush(): void {
    for (const key of [...this.open.keys()]) this.close(key);
  }
}
