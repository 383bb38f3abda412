/**
 * The access-log tap against real Envoy sidecars (local processes): both
 * sidecars of one call stream their records to the control plane over the
 * mTLS xDS cluster, with the same trace id; and a sidecar's certificate
 * cannot report as another node (the stream is refused and counted).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { envoyRoot } from '../../src/validate/proto-registry';
import { eventually, runningSkip } from './harness';
import { callBank, metricsText, metricValue, records, startTapWorld, stopTapWorld, TAP_MESH, type TapWorld } from './tap-world';

describe('real Envoy (local): the access-log tap', { concurrency: 1, skip: runningSkip('local', undefined, undefined, TAP_MESH) }, () => {
  let w: TapWorld;
  before(async () => {
    w = await startTapWorld();
  }, { timeout: 300_000 });
  after(() => stopTapWorld(w), { timeout: 120_000 });

  test('one call: the caller\'s outbound and the callee\'s inbound record reach the control plane with the same trace id', { timeout: 60_000 }, async () => {
    const r = await callBank(w, '/pay/one');
    assert.equal(r.status, 200);
    const trace = String(r.headers?.['x-trace'] ?? r.headers?.['x-request-id'] ?? '');
    const hops = await eventually('both hops of the call in the tap', 10_000, async () => {
      const all = await records(w, 'service=bank');
      const mine = all.filter((x) => x.path === '/pay/one');
      return mine.length >= 2 ? mine : undefined;
    });
    assert.equal(hops.length, 2, JSON.stringify(hops));
    const out = hops.find((h) => h.direction === 'outbound')!;
    const inb = hops.find((h) => h.direction === 'inbound')!;
    assert.ok(out && inb, JSON.stringify(hops));
    assert.equal(out.traceId, inb.traceId, 'one trace id across both sidecars');
    assert.ok(out.traceId.length > 0);
    if (trace) assert.equal(out.traceId, trace);
    assert.equal(out.node, 'payer');
    assert.equal(inb.node, 'bank');
    assert.equal(out.caller, 'spiffe://tap.test/svc/payer');
    assert.equal(out.callee, 'spiffe://tap.test/svc/bank');
    assert.equal(inb.caller, 'spiffe://tap.test/svc/payer', 'the inbound record names the caller from its client certificate');
    assert.equal(out.status, 200);
    assert.equal(out.upstreamHost, `127.0.0.1:${w.bankMeshPort}`, 'the upstream instance: bank\'s registered inbound');
    const byTrace = await records(w, `trace=${encodeURIComponent(out.traceId)}`);
    assert.deepEqual(byTrace.map((x) => x.seq).sort(), hops.map((x) => x.seq).sort(), 'queryable by trace id');
  });

  test("a sidecar's certificate cannot report records as another node: refused, counted, nothing stored", { timeout: 30_000 }, async () => {
    const before = metricValue(await metricsText(w), 'hms_tap_refused_total{node="payer"}');
    const pki = w.setup.pkiDir;
    const creds = grpc.credentials.createSsl(fs.readFileSync(path.join(pki, 'trust-bundle.pem')), fs.readFileSync(path.join(pki, 'svc', 'payer', 'key.pem')), fs.readFileSync(path.join(pki, 'svc', 'payer', 'chain.pem')), {
      checkServerIdentity: () => undefined,
    });
    // The local plan puts xDS right below the admin port (localPorts in src/compose/local-plan.ts).
    const port = Number(new URL(await w.setup.runtime.controlPlaneAdminUrl()).port) - 1;
    const type = envoyRoot().lookupType('envoy.service.accesslog.v3.StreamAccessLogsMessage');
    const forged = Buffer.from(type.encode(type.fromObject({
      identifier: { node: { id: 'bank' }, log_name: 'hms-inbound' },
      http_logs: { log_entry: [{ common_properties: {}, request: { request_id: 'forged-trace', path: '/forged' }, response: { response_code: { value: 200 } } }] },
    })).finish());
    const ClientCtor = grpc.makeGenericClientConstructor({
      StreamAccessLogs: { path: '/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs', requestStream: true, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b },
    } as unknown as grpc.ServiceDefinition, 'AccessLogService');
    const c = new ClientCtor(`127.0.0.1:${port}`, creds) as unknown as { StreamAccessLogs(cb: (err: grpc.ServiceError | null) => void): grpc.ClientWritableStream<Buffer>; close(): void };
    const err = await new Promise<grpc.ServiceError | null>((resolve) => {
      const call = c.StreamAccessLogs((e) => resolve(e));
      call.write(forged);
      call.end();
    });
    c.close();
    assert.ok(err, 'the stream was refused');
    assert.equal(err!.code, grpc.status.PERMISSION_DENIED, err!.message);
    assert.match(err!.details, /spiffe:\/\/tap\.test\/svc\/payer/);
    assert.deepEqual(await records(w, 'trace=forged-trace'), [], 'nothing of it was stored');
    assert.equal(metricValue(await metricsText(w), 'hms_tap_refused_total{node="payer"}'), before + 1, 'counted against the certificate\'s node');
  });
});
