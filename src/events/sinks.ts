/**
 * Where events go (mesh.yml `events.sinks`): an HTTP webhook, a JSON-lines
 * file, stdout. The webhook delivers at least once, in order: every event is
 * appended to a spool file before it is sent, and leaves the spool only after
 * a 2xx; a sink that is down is retried with exponential backoff (100 ms
 * doubling to 5 s) for as long as it takes, and the spool survives a restart
 * of the control plane. The spool is bounded (`spool_bytes`): past it new
 * events are dropped and counted, and the first delivery after the sink
 * returns is followed by a `mesh.events_dropped` event saying how many.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { CLOUDEVENTS_CONTENT_TYPE, type MeshEvent } from './cloudevent';

export interface SinkStats {
  pending: number;
  spoolBytes: number;
  delivered: number;
  dropped: number;
  failures: number;
}

export interface EventSink {
  readonly name: string;
  deliver(e: MeshEvent): void;
  close(): void;
  stats(): SinkStats;
  /** Set by the bus: called once a sink that dropped events delivers again. */
  onDropsReported?: (dropped: number, sinceMs: number) => void;
}

export class StdoutSink implements EventSink {
  readonly name = 'stdout';
  private delivered = 0;
  constructor(private readonly write: (line: string) => void = (l) => void process.stdout.write(l)) {}
  deliver(e: MeshEvent): void {
    this.write(JSON.stringify(e) + '\n');
    this.delivered++;
  }
  close(): void {}
  stats(): SinkStats {
    return { pending: 0, spoolBytes: 0, delivered: this.delivered, dropped: 0, failures: 0 };
  }
}

/** Appends one JSON event per line; a write that fails is counted, never thrown into the caller. */
export class FileSink implements EventSink {
  readonly name: string;
  private delivered = 0;
  private failures = 0;
  constructor(private readonly file: string) {
    this.name = `file:${path.basename(file)}`;
  }
  deliver(e: MeshEvent): void {
    try {
      fs.appendFileSync(this.file, JSON.stringify(e) + '\n', { mode: 0o640 });
      this.delivered++;
    } catch {
      this.failures++;
    }
  }
  close(): void {}
  stats(): SinkStats {
    return { pending: 0, spoolBytes: 0, delivered: this.delivered, dropped: 0, failures: this.failures };
  }
}

export interface WebhookOptions {
  readonly url: string;
  /** The spool file (its folder is created 0700). */
  readonly spoolFile: string;
  readonly spoolBytes: number;
  readonly timeoutMs?: number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export const DEFAULT_SPOOL_BYTES = 8 * 1024 * 1024;

export class WebhookSink implements EventSink {
  readonly name: string;
  onDropsReported?: (dropped: number, sinceMs: number) => void;
  private queue: string[] = [];
  private queueBytes = 0;
  /** Lines at the head of the spool file already delivered (the file is rewritten when it pays). */
  private deliveredInFile = 0;
  private delivered = 0;
  private dropped = 0;
  private droppedUnreported = 0;
  private droppedSince = 0;
  private failures = 0;
  private backoffMs: number;
  private sending = false;
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly opts: WebhookOptions) {
    this.name = `webhook:${new URL(opts.url).host}`;
    this.backoffMs = opts.minBackoffMs ?? 100;
    fs.mkdirSync(path.dirname(opts.spoolFile), { recursive: true, mode: 0o700 });
    this.recover();
    this.kick();
  }

  /** Events a previous run spooled and did not deliver go first. */
  private recover(): void {
    let text = '';
    try {
      text = fs.readFileSync(this.opts.spoolFile, 'utf8');
    } catch {
      return;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      const bytes = Buffer.byteLength(line) + 1;
      if (this.queueBytes + bytes > this.opts.spoolBytes) {
        this.countDrop();
        continue;
      }
      this.queue.push(line);
      this.queueBytes += bytes;
    }
    this.rewriteSpool();
  }

  deliver(e: MeshEvent): void {
    if (this.closed) return;
    const line = JSON.stringify(e);
    const bytes = Buffer.byteLength(line) + 1;
    if (this.queueBytes + bytes > this.opts.spoolBytes) {
      this.countDrop();
      return;
    }
    fs.appendFileSync(this.opts.spoolFile, line + '\n', { mode: 0o600 });
    this.queue.push(line);
    this.queueBytes += bytes;
    this.kick();
  }

  private countDrop(): void {
    this.dropped++;
    if (this.droppedUnreported++ === 0) this.droppedSince = Date.now();
  }

  private kick(): void {
    if (this.sending || this.closed || this.timer || this.queue.length === 0) return;
    this.sending = true;
    void this.post(this.queue[0]!).then((ok) => this.sent(ok));
  }

  private sent(ok: boolean): void {
    this.sending = false;
    if (this.closed) return;
    if (!ok) {
      this.failures++;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, this.backoffMs);
      this.timer.unref();
      this.backoffMs = Math.min(this.opts.maxBackoffMs ?? 5000, this.backoffMs * 2);
      return;
    }
    this.backoffMs = this.opts.minBackoffMs ?? 100;
    const line = this.queue.shift()!;
    this.queueBytes -= Buffer.byteLength(line) + 1;
    this.delivered++;
    this.deliveredInFile++;
    if (this.queue.length === 0 || this.deliveredInFile > 1000) this.rewriteSpool();
    if (this.droppedUnreported > 0) {
      const n = this.droppedUnreported;
      this.droppedUnreported = 0;
      this.onDropsReported?.(n, this.droppedSince);
    }
    this.kick();
  }

  /** The spool holds exactly the undelivered queue (written to a temp file, then renamed: a crash leaves one or the other). */
  private rewriteSpool(): void {
    const tmp = `${this.opts.spoolFile}.tmp`;
    fs.writeFileSync(tmp, this.queue.length ? this.queue.join('\n') + '\n' : '', { mode: 0o600 });
    fs.renameSync(tmp, this.opts.spoolFile);
    this.deliveredInFile = 0;
  }

  private post(line: string): Promise<boolean> {
    const url = new URL(this.opts.url);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve) => {
      const req = mod.request(url, { method: 'POST', headers: { 'content-type': CLOUDEVENTS_CONTENT_TYPE, 'content-length': Buffer.byteLength(line) }, timeout: this.opts.timeoutMs ?? 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300));
        res.on('error', () => resolve(false));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(false));
      req.end(line);
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  stats(): SinkStats {
    return { pending: this.queue.length, spoolBytes: this.queueBytes, delivered: this.delivered, dropped: this.dropped, failures: this.failures };
  }
}
