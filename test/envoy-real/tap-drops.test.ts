/**
 * Envoy's own count of the access-log entries it lost reaches the control
 * plane's /metrics, with real Envoy sidecars (local processes): each sidecar's
 * metrics service stats sink streams its counters over the mTLS xDS cluster,
 * and the control plane keeps access_logs.grpc_access_log.logs_dropped and
 * logs_written per node (hms_tap_envoy_logs_*_total).
 *
 * Drops are forced the way users meet them, by a control plane that stops
 * reading: the control-plane process is suspended (SIGSTOP) while payer's
 * sidecar answers a burst of requests itself (404, no route: no upstream,
 * nothing else touches the control plane), each entry with a 4 KiB path, so
 * its access-log stream's HTTP/2 buffer passes the high watermark and Envoy
 * drops. After SIGCONT the control plane's figure catches up with the
 * sidecar's own admin counter: a delta above zero, equal to Envoy's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { probe } from '../../src/compose/probe';
import { eventually, runningSkip } from './harness';
import { metricsText, metricValue, startTapWorld, stopTapWorld, TAP_MESH, type TapWorld } from './tap-world';

const BURST = 1500;
const CONCURRENCY = 16;
const LONG_PATH = `/drop/${'x'.repeat(4096)}`;

/** Envoy's counter from its admin /stats (loopback), 0 while it was never used. */
async function envoyCounter(w: TapWorld, node: string, name: string): Promise<number> {
  const text = await w.setup.runtime.admin(node, `/stats?filter=${encodeURIComponent(`^${name.replace(/\./g, '\\.')}$`)}`);
  const m = new RegExp(`^${name.replace(/\./g, '\\.')}: (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('real Envoy (local): Envoy\'s dropped access-log entries on the control plane\'s /metrics', { concurrency: 1, skip: runningSkip('local', undefined, undefined, TAP_MESH) }, () => {
  let w: TapWorld;
  let cpPid = 0;
  before(async () => {
    w = await startTapWorld();
    const marker = (await w.setup.runtime.processMarkers())['control-plane'] ?? '';
    cpPid = Number(/pid (\d+)/.exec(marker)?.[1] ?? 0);
    assert.ok(cpPid > 0, `the control plane's pid: ${marker}`);
  }, { timeout: 300_000 });
  after(async () => {
    if (cpPid) process.kill(cpPid, 'SIGCONT');
    await stopTapWorld(w);
  }, { timeout: 120_000 });

  test('the stats sink reports each sidecar: logs_written per node, and what a report costs', { timeout: 90_000 }, async () => {
    const text = await eventually('payer\'s and bank\'s stats reports with logs_written', 60_000, async () => {
      const t = await metricsText(w);
      return metricValue(t, 'hms_tap_envoy_logs_written_total{node="payer"}') > 0 && metricValue(t, 'hms_tap_envoy_logs_written_total{node="bank"}') > 0 ? t : undefined;
    });
    const reports = metricValue(text, 'hms_tap_envoy_stats_reports_total{node="payer"}');
    const bytes = metricValue(text, 'hms_tap_envoy_stats_bytes_total{node="payer"}');
    assert.ok(reports >= 1 && bytes > 0, `reports ${reports}, bytes ${bytes}`);
    // The figure docs/tap.md quotes: what one flush of a sidecar's stats costs on the wire.
    console.log(`# stats sink: ${Math.round(bytes / reports)} bytes per report from payer (${reports} report(s))`);
  });

  test('a control plane that stops reading: Envoy drops entries, and once it reads again /metrics counts them as Envoy does', { timeout: 240_000 }, async () => {
    const payer = w.setup.runtime.nodes.find((n) => n.node === 'payer')!;
    const before = metricValue(await metricsText(w), 'hms_tap_envoy_logs_dropped_total{node="payer"}');
    const envoyBefore = await envoyCounter(w, 'payer', 'access_logs.grpc_access_log.logs_dropped');
    process.kill(cpPid, 'SIGSTOP');
    let envoyAfter = envoyBefore;
    try {
      const deadline = Date.now() + 120_000;
      let sent = 0;
      const worker = async (): Promise<void> => {
        while (sent < BURST && Date.now() < deadline) {
          sent++;
          const r = await probe({ host: '127.0.0.1', port: payer.outboundPort, authority: 'nowhere', path: LONG_PATH });
          assert.equal(r.status, 404, JSON.stringify(r).slice(0, 300));
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      // The entries of the last requests go out with the next 200 ms flush: wait on Envoy's counter, not a clock.
      envoyAfter = await eventually('payer\'s Envoy counts dropped entries', 30_000, async () => {
        const v = await envoyCounter(w, 'payer', 'access_logs.grpc_access_log.logs_dropped');
        return v > envoyBefore ? v : undefined;
      });
    } finally {
      process.kill(cpPid, 'SIGCONT');
    }
    const shown = await eventually('the control plane\'s /metrics shows what payer\'s Envoy dropped', 90_000, async () => {
      const v = metricValue(await metricsText(w), 'hms_tap_envoy_logs_dropped_total{node="payer"}');
      return v - before >= envoyAfter - envoyBefore ? v : undefined;
    });
    const envoyNow = await envoyCounter(w, 'payer', 'access_logs.grpc_access_log.logs_dropped');
    console.log(`# payer's Envoy dropped ${envoyAfter - envoyBefore} entries of ${BURST} requests; /metrics delta ${shown - before}`);
    assert.ok(shown - before > 0);
    assert.ok(shown - before <= envoyNow - envoyBefore, `never more than Envoy counted: /metrics ${shown - before}, Envoy ${envoyNow - envoyBefore}`);
  });
});
