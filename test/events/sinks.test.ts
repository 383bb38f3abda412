/**
 * The webhook sink against a real local HTTP receiver: at least once and in
 * order across an outage, the spool bounded (drops counted and reported as
 * mesh.events_dropped once the sink is back), and a restart of the control
 * plane replays what was not delivered with the same ids.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { test } from 'node:test';
import { EventBus } from '../../src/events/bus';
import type { MeshEvent } from '../../src/events/cloudevent';
import { WebhookSink } from '../../src/events/sinks';
import { tempDir } from '../helpers/mesh-dir';

interface Receiver {
  readonly got: MeshEvent[];
  port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function receiver(port = 0): Receiver {
  let server: http.Server | undefined;
  const r: Receiver = {
    got: [],
    port,
    async start() {
      server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          assert.equal(req.headers['content-type'], 'application/cloudevents+json');
          r.got.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as MeshEvent);
          res.writeHead(202).end();
        });
      });
      await new Promise<void>((ok) => server!.listen(r.port, '127.0.0.1', () => ok()));
      r.port = (server!.address() as { port: number }).port;
    },
    async stop() {
      server?.closeAllConnections();
      await new Promise<void>((ok) => server!.close(() => ok()));
    },
  };
  return r;
}

async function until(what: string, ms: number, f: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('webhook: every event arrives in order across an outage; duplicates only with equal ids', async () => {
  const tmp = tempDir('hms-sink-');
  const rx = receiver();
  await rx.start();
  const bus = new EventBus('/hms-svc/t', 0);
  const sink = new WebhookSink({ url: `http://127.0.0.1:${rx.port}/events`, spoolFile: path.join(tmp.dir, 'spool.jsonl'), spoolBytes: 1 << 20, maxBackoffMs: 200 });
  bus.configure('/hms-svc/t', 0, [sink]);
  try {
    for (let i = 0; i < 5; i++) bus.publishNow('mesh.nack', 'payer', `k${i}`, 1000 + i, { i });
    await until('5 delivered', 5000, () => rx.got.length >= 5);
    await rx.stop();
    for (let i = 5; i < 20; i++) bus.publishNow('mesh.nack', 'payer', `k${i}`, 1000 + i, { i });
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(sink.stats().pending >= 15, 'spooled while the receiver is down');
    assert.ok(fs.statSync(path.join(tmp.dir, 'spool.jsonl')).size > 0, 'on disk');
    await rx.start();
    await until('20 delivered', 5000, () => new Set(rx.got.map((e) => e.id)).size >= 20);
    const ids = rx.got.map((e) => e.id);
    const unique = [...new Set(ids)];
    assert.deepEqual(unique.map((id) => rx.got.find((e) => e.id === id)!.data.i), [...Array(20).keys()], 'in order');
    for (const e of rx.got) assert.equal(e.specversion, '1.0');
    await until('spool emptied', 2000, () => fs.statSync(path.join(tmp.dir, 'spool.jsonl')).size === 0);
  } finally {
    bus.close();
    await rx.stop().catch(() => undefined);
    tmp.cleanup();
  }
});

test('webhook: the spool is bounded; what was dropped is counted and reported once the sink is back', async () => {
  const tmp = tempDir('hms-sink-');
  const rx = receiver();
  await rx.start();
  await rx.stop(); // down from the start, on a known port
  const bus = new EventBus('/hms-svc/t', 0);
  const sink = new WebhookSink({ url: `http://127.0.0.1:${rx.port}/events`, spoolFile: path.join(tmp.dir, 'spool.jsonl'), spoolBytes: 4096, maxBackoffMs: 200 });
  bus.configure('/hms-svc/t', 0, [sink]);
  try {
    for (let i = 0; i < 100; i++) bus.publishNow('mesh.timeout', 'payer->bank', `k${i}`, 1000 + i, { i });
    const st = sink.stats();
    assert.ok(st.spoolBytes <= 4096, `spool ${st.spoolBytes} bytes`);
    assert.ok(st.dropped > 0 && st.dropped + st.pending === 100, JSON.stringify(st));
    await rx.start();
    await until('the drop report', 8000, () => rx.got.some((e) => e.type === 'mesh.events_dropped'));
    const report = rx.got.find((e) => e.type === 'mesh.events_dropped')!;
    assert.equal(report.data.dropped, st.dropped);
    await until('every kept event', 5000, () => rx.got.filter((e) => e.type === 'mesh.timeout').length >= st.pending);
  } finally {
    bus.close();
    await rx.stop().catch(() => undefined);
    tmp.cleanup();
  }
});

test('webhook: a restart replays the spool (the events a stopped control plane did not deliver), same ids', async () => {
  const tmp = tempDir('hms-sink-');
  const rx = receiver();
  await rx.start();
  await rx.stop();
  const spoolFile = path.join(tmp.dir, 'spool.jsonl');
  const first = new WebhookSink({ url: `http://127.0.0.1:${rx.port}/`, spoolFile, spoolBytes: 1 << 20 });
  const bus = new EventBus('/hms-svc/t', 0);
  bus.configure('/hms-svc/t', 0, [first]);
  const sent = [0, 1, 2].map((i) => bus.publishNow('mesh.denied', 'x->y', `k${i}`, 5 + i, {}));
  bus.close();
  await rx.start();
  const second = new WebhookSink({ url: `http://127.0.0.1:${rx.port}/`, spoolFile, spoolBytes: 1 << 20 });
  try {
    await until('replayed', 5000, () => rx.got.length >= 3);
    assert.deepEqual(rx.got.map((e) => e.id), sent.map((e) => e.id));
  } finally {
    second.close();
    await rx.stop();
    tmp.cleanup();
  }
});

test('coalescing: one event per type and pair per window, with the count and a stable id', async () => {
  const bus = new EventBus('/hms-svc/t', 100);
  const got: MeshEvent[] = [];
  bus.onEvent((e) => got.push(e));
  for (let i = 0; i < 50; i++) bus.occur('mesh.timeout', 'payer->bank', 10_000 + i, { caller: 'payer' }, `t${i}`);
  bus.occur('mesh.timeout', 'other->bank', 10_000, {});
  await until('windows closed', 2000, () => got.length >= 2);
  const e = got.find((x) => x.subject === 'payer->bank')!;
  assert.equal(e.data.count, 50);
  assert.equal((e.data.trace_ids as string[]).length, 5);
  const again = new EventBus('/hms-svc/t', 100);
  const got2: MeshEvent[] = [];
  again.onEvent((x) => got2.push(x));
  for (let i = 0; i < 50; i++) again.occur('mesh.timeout', 'payer->bank', 10_000 + i, { caller: 'payer' }, `t${i}`);
  await until('window closed', 2000, () => got2.length >= 1);
  assert.equal(got2[0]!.id, e.id, 'the same occurrence has the same id');
});
