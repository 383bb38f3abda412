/**
 * The stats sink's side of the control plane (src/tap/metrics-service.ts):
 * only Envoy's access-log counters are kept, totals stay monotonic across an
 * Envoy restart, and a certificate cannot report stats as another node.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { decodeStreamMetrics, keptCounters, streamMetricsType } from '../../src/tap/metrics-service';
import { Tap } from '../../src/tap/tap';
import { silentLogger } from '../../src/xds/log';
import type { RunningControlPlane } from '../../src/xds/serve';
import { makePki, startTestPlane, tmp } from '../helpers/control-plane';
import { copyExample } from '../helpers/mesh-dir';

/** A StreamMetricsMessage as Envoy's sink sends it: counters, and other stats the control plane skips. */
function message(node: string | undefined, counters: Record<string, number>): Buffer {
  const type = streamMetricsType();
  const families = Object.entries(counters).map(([name, value]) => ({ name, metric: [{ counter: { value } }] }));
  return Buffer.from(type.encode(type.fromObject({ ...(node ? { identifier: { node: { id: node } } } : {}), envoy_metrics: families })).finish());
}

const DROPPED = 'access_logs.grpc_access_log.logs_dropped';
const WRITTEN = 'access_logs.grpc_access_log.logs_written';

describe('metrics service: Envoy\'s counters on /metrics', () => {
  test('only the kept counters are read; totals survive an Envoy restart (a value below the last one)', () => {
    const m = decodeStreamMetrics(message('payer', { [DROPPED]: 7, [WRITTEN]: 100, 'cluster.xds_cluster.upstream_cx_total': 3 }));
    assert.deepEqual(keptCounters(m), { logsDropped: 7, logsWritten: 100 });
    const tap = new Tap(silentLogger);
    tap.envoyCounters('payer', { logsDropped: 7, logsWritten: 100 }, 50);
    tap.envoyCounters('payer', { logsDropped: 9, logsWritten: 120 }, 50);
    tap.envoyCounters('payer', { logsDropped: 2, logsWritten: 10 }, 50); // restarted: counts from zero
    const text = tap.renderMetrics();
    assert.match(text, /^hms_tap_envoy_logs_dropped_total\{node="payer"\} 11$/m);
    assert.match(text, /^hms_tap_envoy_logs_written_total\{node="payer"\} 130$/m);
    assert.match(text, /^hms_tap_envoy_stats_reports_total\{node="payer"\} 3$/m);
    assert.match(text, /^hms_tap_envoy_stats_bytes_total\{node="payer"\} 150$/m);
  });

  describe('over gRPC', () => {
    let running: RunningControlPlane;
    let pki: string;
    let mesh: { dir: string; cleanup: () => void };
    before(async () => {
      mesh = copyExample('ceq');
      pki = await makePki(tmp('hms-stats-pki-'), 'ceq.gov', ['impact-calc', 'grant-pay', 'public-docs', 'citizen-gw']);
      running = await startTestPlane({ meshDir: mesh.dir, pkiDir: pki });
    });
    after(async () => {
      await running?.stop();
      mesh?.cleanup();
    });

    async function stream(as: string, ...messages: Buffer[]): Promise<grpc.ServiceError | null> {
      const creds = grpc.credentials.createSsl(fs.readFileSync(path.join(pki, 'trust-bundle.pem')), fs.readFileSync(path.join(pki, 'svc', as, 'key.pem')), fs.readFileSync(path.join(pki, 'svc', as, 'chain.pem')), { checkServerIdentity: () => undefined });
      const Ctor = grpc.makeGenericClientConstructor({
        StreamMetrics: { path: '/envoy.service.metrics.v3.MetricsService/StreamMetrics', requestStream: true, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b },
      } as unknown as grpc.ServiceDefinition, 'MetricsService');
      const c = new Ctor(`127.0.0.1:${running.ports.xds}`, creds) as unknown as { StreamMetrics(cb: (err: grpc.ServiceError | null) => void): grpc.ClientWritableStream<Buffer>; close(): void };
      const err = await new Promise<grpc.ServiceError | null>((resolve) => {
        const call = c.StreamMetrics((e) => resolve(e));
        for (const m of messages) call.write(m);
        call.end();
      });
      c.close();
      return err;
    }

    test('a sidecar reports as itself (identifier in the first message only); another node\'s id is refused and counted', async () => {
      assert.equal(await stream('grant-pay', message('grant-pay', { [DROPPED]: 4 }), message(undefined, { [DROPPED]: 6 })), null);
      const err = await stream('grant-pay', message('impact-calc', { [DROPPED]: 1000 }));
      assert.equal(err?.code, grpc.status.PERMISSION_DENIED, String(err));
      assert.match(err!.details, /spiffe:\/\/ceq\.gov\/svc\/grant-pay/);
      const text = running.tap.renderMetrics();
      assert.match(text, /^hms_tap_envoy_logs_dropped_total\{node="grant-pay"\} 6$/m);
      assert.doesNotMatch(text, /hms_tap_envoy_logs_dropped_total\{node="impact-calc"\}/);
      assert.match(text, /^hms_tap_refused_total\{node="grant-pay"\} 1$/m);
    });
  });
});
