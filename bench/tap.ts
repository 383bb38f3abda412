/**
 * `npm run bench -- tap`: the access-log tap and the events, in one process.
 *   - ingest: StreamAccessLogsMessages of 40 HTTPAccessLogEntries (Envoy's
 *     16 KiB batches) decoded with the server's protobufjs type and stored in
 *     the bounded store at its default caps: records/s on one core (target
 *     >= 50,000/s);
 *   - memory at the cap: heap held by a full store (100,000 records);
 *   - request end -> event at a real local HTTP webhook: p99 over 500 timed-out
 *     requests, coalescing off (target < 100 ms). Envoy's own buffer
 *     (buffer_flush_interval 200 ms) comes on top in a mesh.
 * HMS_BENCH_TAP_RECORDS shrinks the ingest run. Figures: docs/bench.md.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { envoyRoot } from '../src/validate/proto-registry';
import { Tap } from '../src/tap/tap';
import { EventBus } from '../src/events/bus';
import { RecordEvents } from '../src/events/derive';
import { WebhookSink } from '../src/events/sinks';
import { recordSize } from '../src/tap/record';
import { silentLogger } from '../src/xds/log';
import { measure, report } from './measure';

const RECORDS = Number(process.env.HMS_BENCH_TAP_RECORDS ?? 1_000_000);
const TARGET = { recordsPerS: 50_000, eventP99Ms: 100 };
const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
const sender = { node: 'payer', spiffeId: 'spiffe://bench.test/svc/payer', trustDomain: 'bench.test' };

function batch(n: number, offset: number): Buffer {
  const type = envoyRoot().lookupType('envoy.service.accesslog.v3.StreamAccessLogsMessage');
  const entries = Array.from({ length: n }, (_, i) => ({
    common_properties: {
      start_time: { seconds: 1_800_000_000 + offset + i, nanos: 0 },
      duration: { seconds: 0, nanos: 12_000_000 },
      upstream_cluster: 'outbound|bank',
      upstream_remote_address: { socket_address: { address: '10.0.0.7', port_value: 15090 } },
      response_flags: {},
    },
    request: { request_method: 3, authority: 'bank', path: `/pay/${i}`, request_id: `0f8e1c2a-7d3b-4c55-9a10-${String(offset + i).padStart(12, '0')}` },
    response: { response_code: { value: 200 }, response_code_details: 'via_upstream' },
  }));
  return Buffer.from(type.encode(type.fromObject({ http_logs: { log_entry: entries } })).finish());
}

async function ingest(): Promise<void> {
  const type = envoyRoot().lookupType('envoy.service.accesslog.v3.StreamAccessLogsMessage');
  const msgs = Array.from({ length: 25 }, (_, i) => batch(40, i * 40));
  const tap = new Tap(silentLogger);
  const per = 40;
  const rounds = Math.ceil(RECORDS / per);
  const m = await measure(() => {
    for (let i = 0; i < rounds; i++) {
      const decoded = type.decode(msgs[i % msgs.length]!) as unknown as { http_logs: { log_entry: unknown[] } };
      tap.ingestEnvoy(sender, 'outbound', decoded.http_logs.log_entry);
    }
  });
  const rate = Math.round((rounds * per) / (m.ms / 1000));
  report('tap ingest', { records: rounds * per, ms: m.ms, records_per_s: rate, target: `>=${TARGET.recordsPerS}`, verdict: verdict(rate >= TARGET.recordsPerS), stored: tap.store.size, dropped: tap.store.dropped, peak_rss_mb: m.peakRssMb });
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  const full = new Tap(silentLogger);
  for (let i = 0; i < full.store.limits.maxRecords / per; i++) {
    const decoded = type.decode(msgs[i % msgs.length]!) as unknown as { http_logs: { log_entry: unknown[] } };
    full.ingestEnvoy(sender, 'outbound', decoded.http_logs.log_entry);
  }
  global.gc?.();
  const heapMb = Math.round((process.memoryUsage().heapUsed - before) / 1048576);
  report('tap store at the cap', { records: full.store.size, counted_mb: Math.round(full.store.bytes / 1048576), heap_mb: heapMb, cap_mb: Math.round(full.store.limits.maxBytes / 1048576), verdict: verdict(heapMb <= full.store.limits.maxBytes / 1048576 * 2) });
}

async function eventLatency(): Promise<void> {
  const N = 500;
  const got: number[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const e = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: { ended: number } };
      got.push(Date.now() - e.data.ended);
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-bench-tap-'));
  const bus = new EventBus('/hms-svc/bench', 0);
  bus.configure('/hms-svc/bench', 0, [new WebhookSink({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, spoolFile: path.join(dir, 'spool.jsonl'), spoolBytes: 8 << 20 })]);
  const tap = new Tap(silentLogger);
  const derive = new RecordEvents(bus);
  tap.store.onRecord((r) => derive.observe(r));
  // Each timeout names its end in the data (occur() copies `data` in), so the receiver can subtract.
  const origOccur = bus.occur.bind(bus);
  bus.occur = (type, subject, at, data, trace) => origOccur(type, subject, at, { ...data, ended: at }, trace);
  for (let i = 0; i < N; i++) {
    const end = Date.now();
    const r = { node: 'payer', direction: 'outbound' as const, traceId: `t${i}`, startMs: end - 1000, durationMs: 1000, method: 'GET', authority: 'bank', path: '/', status: 504, flags: ['UT'], upstreamCluster: 'outbound|bank', upstreamHost: '10.0.0.7:15090', caller: 'spiffe://b/svc/payer', callee: `spiffe://b/svc/bank${i % 50}`, details: 'upstream_response_timeout' };
    tap.ingest({ ...r, size: recordSize(r) });
    await new Promise((res) => setTimeout(res, 2));
  }
  const deadline = Date.now() + 10_000;
  while (got.length < N && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  bus.close();
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const sorted = [...got].sort((a, b) => a - b);
  const p = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? -1;
  report('tap request end -> event at webhook', { events: got.length, p50_ms: p(0.5), p99_ms: p(0.99), target: `p99<${TARGET.eventP99Ms}`, verdict: verdict(got.length === N && p(0.99) < TARGET.eventP99Ms), note: 'plus Envoy buffer_flush_interval 200 ms in a mesh' });
}

export async function run(): Promise<void> {
  await ingest();
  await eventLatency();
}
