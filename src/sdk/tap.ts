/**
 * Proxyless members (no Envoy sidecar) report their calls to the tap
 * themselves: POST /v1/tap/records with the member's certificate, which is
 * who the records are from (the control plane takes the node from it).
 *
 *   const tap = new TapReporter({ adminUrl, trustDomain, files });
 *   tap.record({ direction: 'outbound', peer: 'grant-pay', trace_id, start_ms, duration_ms, method: 'POST', path: '/Payout', status: 200 });
 *
 * Records are batched (at most MAX_BATCH per post, every FLUSH_MS) in a
 * bounded buffer: past MAX_PENDING they are dropped and counted (`dropped`).
 */
import * as fs from 'node:fs';
import { postToAdmin, type MemberTls } from './admin-post';
import { MeshSdkError } from './errors';

export interface CallRecord {
  readonly direction: 'inbound' | 'outbound';
  /** The other service: the callee (outbound) or the caller (inbound). */
  readonly peer: string;
  readonly trace_id: string;
  readonly start_ms: number;
  readonly duration_ms: number;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly authority?: string;
  readonly upstream_host?: string;
  /** Envoy-style short flags, e.g. ["UT"] for a deadline exceeded. */
  readonly flags?: readonly string[];
}

export interface TapReporterOptions {
  readonly adminUrl: string;
  readonly trustDomain: string;
  readonly files?: { readonly chain: string; readonly key: string; readonly trustBundle: string };
}

export const MAX_BATCH = 500;
export const MAX_PENDING = 5_000;
export const FLUSH_MS = 200;

export class TapReporter {
  private pending: CallRecord[] = [];
  private timer?: NodeJS.Timeout;
  private readonly tls?: MemberTls;
  dropped = 0;
  sent = 0;

  constructor(private readonly opts: TapReporterOptions) {
    if (opts.adminUrl.startsWith('https:')) {
      if (!opts.files) throw new MeshSdkError('the tap reporter needs the member\'s certificate files for an https admin URL');
      this.tls = { ca: fs.readFileSync(opts.files.trustBundle), cert: fs.readFileSync(opts.files.chain), key: fs.readFileSync(opts.files.key) };
    }
  }

  record(r: CallRecord): void {
    if (this.pending.length >= MAX_PENDING) {
      this.dropped++;
      return;
    }
    this.pending.push(r);
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush().catch(() => undefined), FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Sends what is pending now; records a refused or failed post are counted as dropped. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_BATCH);
      try {
        const reply = await postToAdmin(this.opts.adminUrl, this.opts.trustDomain, this.tls, '/v1/tap/records', { records: batch });
        if (reply.status === 200) this.sent += batch.length;
        else this.dropped += batch.length;
      } catch {
        this.dropped += batch.length;
      }
    }
  }
}
