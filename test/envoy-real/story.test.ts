/**
 * The chapter's story through real Envoy sidecars (docs/envoy.md): the
 * composition rendered by `mesh build --target compose` under Docker
 * Compose, or the same compiled bootstraps as local processes (ENVOY_BIN).
 * `npm run test:envoy` runs it; under `npm test`, and wherever neither Docker
 * with the pinned image nor ENVOY_BIN is available, every test is declared
 * skipped with the reason (never reported as a pass).
 *
 * Tests run in order and share one running mesh: started by the first test
 * that needs it, torn down in `after` (also when a test fails, and on Ctrl-C).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MeshRuntime } from '../../src/compose/runtime';
import type { ProbeResult } from '../../src/compose/probe';
import { lintMesh } from '../../src/lint';
import { accessLog, countBy, editPolicies, statSum } from './envoy-admin';
import { adminClient, controlPlaneStatus, eventually, EXAMPLE, mesh, runningSkip, setUp, suiteSkip, upInSync, type Backend, type Setup } from './harness';
const PAYOUT = { method: 'POST', path: '/payout', json: { project: 'HWY-94', usd: 200_000 } } as const;
const CALLER = 'impact-calc';
const CALLEE = 'grant-pay';
/** Allowed by nobody to call grant-pay (access.grant-pay.allow is [impact-calc]). */
const STRANGER = 'public-docs';

const policies = lintMesh(EXAMPLE).model!.policies.find((p) => p.service === CALLEE)!;
const MAX_FAILURES = policies.circuitBreaker!.maxFailures.value;

// The same story on both runtimes: local processes in every `npm test`, Docker Compose under `npm run test:envoy`.
for (const backend of ['local', 'docker'] as const) story(backend);

function story(backend: Backend): void {
  const SKIP_ALL = suiteSkip(backend);
  const SKIP_RUNNING = runningSkip(backend);
  describe(`real Envoy (${backend}): the chapter's story`, { concurrency: 1 }, () => {
    let setup: Setup | undefined;
    let running: Promise<MeshRuntime> | undefined;
    let rateLimited = false;
    /** The x-trace of the raw payout, for `mesh trace`. */
    let payoutTrace: string | undefined;
    /** The served mesh's policies as rendered, restored after the rate-limit tests. */
    let renderedPolicies: string | undefined;

    const stop = async (): Promise<void> => {
      await setup?.runtime.down();
      if (setup && process.env.HMS_ENVOY_KEEP !== '1') fs.rmSync(setup.workDir, { recursive: true, force: true });
    };
    const onSignal = (sig: NodeJS.Signals): void => void stop().finally(() => process.kill(process.pid, sig));

    before(async () => {
      if (SKIP_ALL) return;
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      setup = await setUp(backend);
    }, { timeout: 300_000 });

    after(async () => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      await stop();
    }, { timeout: 300_000 });

    /** Up, every sidecar connected and in sync with the control plane, and grant-pay registered and answering. */
    const up = (): Promise<MeshRuntime> =>
      (running ??= (async () => {
        const rt = setup!.runtime;
        await upInSync(setup!);
        await eventually(`${CALLER} -> ${CALLEE} answers 202 (registration reached the sidecars)`, 90_000, async () => ((await rt.outbound(CALLER, { to: CALLEE, ...PAYOUT }))[0]?.status === 202 ? true : undefined));
        return rt;
      })());

    test('envoy --mode validate accepts every generated bootstrap', { skip: SKIP_ALL, timeout: 600_000 }, async () => {
      const rt = setup!.runtime;
      assert.ok(rt.nodes.length > 0);
      for (const n of rt.nodes) {
        const r = await rt.validate(n.node);
        assert.equal(r.code, 0, `${n.node}: envoy --mode validate exited ${r.code}:\n${r.stdout}${r.stderr}`);
      }
    });

    test(`${CALLER} pays ${CALLEE} by name through both sidecars: 202, an x-trace header, the trace id in both access logs`, { skip: SKIP_RUNNING, timeout: 600_000 }, async () => {
      const rt = await up();
      // The example app itself, as the chapter runs it.
      const app = await rt.runApp(CALLER);
      const printed = /Status: (\d+) Trace: (\S+)/.exec(app.stdout);
      assert.ok(printed, `${CALLER} printed no status line:\n${app.stdout}${app.stderr}`);
      assert.equal(printed[1], '202', app.stdout);
      // The same call, raw: the header itself, not the SDK's fallback to the id it sent.
      const [res] = await rt.outbound(CALLER, { to: CALLEE, ...PAYOUT });
      assert.equal(res?.status, 202, JSON.stringify(res));
      const trace = res!.headers?.['x-trace'];
      assert.ok(trace, `no x-trace header: ${JSON.stringify(res!.headers)}`);
      payoutTrace = trace;
      for (const id of [printed[2]!, trace]) {
        const out = await eventually(`${CALLER}'s outbound access log shows ${id}`, 30_000, async () => accessLog(await rt.sidecarLog(CALLER), id, 'outbound'));
        const inn = await eventually(`${CALLEE}'s inbound access log shows ${id}`, 30_000, async () => accessLog(await rt.sidecarLog(CALLEE), id, 'inbound'));
        // json_format writes a lone %RESPONSE_CODE% as a number; either way it reads 202.
        assert.equal(String(out['status']), '202');
        assert.equal(String(inn['status']), '202');
        assert.match(String(inn['peer']), new RegExp(`/svc/${CALLER}$`), 'the callee saw the caller\'s mesh identity');
      }
    });

    test(`mesh trace of the payout lists both sidecars' hops, in order, with the same trace id`, { skip: SKIP_RUNNING, timeout: 120_000 }, async () => {
      const rt = await up();
      assert.ok(payoutTrace, 'the payout test ran first');
      const args = ['trace', payoutTrace, '--server', await rt.controlPlaneAdminUrl(), '--pki', setup!.pkiDir, '--admin', 'ops', '--mesh', rt.meshDir];
      const json = await eventually('both hops in the tap', 15_000, async () => {
        const r = await mesh([...args, '--format', 'json']);
        const body = r.code === 0 ? (JSON.parse(r.stdout) as { hops: Array<{ record: { node: string; direction: string; traceId: string; caller: string; callee: string; status: number } }> }) : undefined;
        return body && body.hops.length >= 2 ? body : undefined;
      });
      assert.deepEqual(json.hops.map((h) => `${h.record.node} ${h.record.direction}`), [`${CALLER} outbound`, `${CALLEE} inbound`]);
      for (const h of json.hops) {
        assert.equal(h.record.traceId, payoutTrace);
        assert.equal(h.record.caller, `spiffe://ceq.gov/svc/${CALLER}`);
        assert.equal(h.record.callee, `spiffe://ceq.gov/svc/${CALLEE}`);
        assert.equal(h.record.status, 202);
      }
      const text = await mesh(args);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, new RegExp(`^1\\. \\S+  ${CALLER} outbound  spiffe://ceq.gov/svc/${CALLER} -> spiffe://ceq.gov/svc/${CALLEE}$`, 'm'));
      assert.match(text.stdout, new RegExp(`^2\\. \\S+  ${CALLEE} inbound`, 'm'));
      assert.match(text.stdout, /policy: \S*mesh_policies\.yml:\d+:\d+: split/, 'the split that routed the payout, with its line');
    });

    test(`a caller the access policy does not allow (${STRANGER}) gets 403 from ${CALLEE}'s RBAC`, { skip: SKIP_RUNNING, timeout: 300_000 }, async () => {
      const rt = await up();
      const denied = await rt.inbound(CALLEE, { identity: STRANGER }, PAYOUT);
      assert.equal(denied.status, 403, JSON.stringify(denied));
      // Control: the same direct call with the allowed identity passes, so the 403 is about who calls.
      const allowed = await rt.inbound(CALLEE, { identity: CALLER }, PAYOUT);
      assert.equal(allowed.status, 202, JSON.stringify(allowed));
    });

    test(`a plaintext call to ${CALLEE}'s inbound port fails the TLS handshake`, { skip: SKIP_RUNNING, timeout: 300_000 }, async () => {
      const rt = await up();
      const port = rt.nodes.find((n) => n.node === CALLEE)!.inboundPort;
      const errors = async (): Promise<number> => statSum(await rt.admin(CALLEE, '/stats'), new RegExp(`^listener\\.[^:]*_${port}\\.ssl\\.connection_error$`));
      const before = await errors();
      const r = await rt.inbound(CALLEE, { plaintext: true }, PAYOUT);
      assert.equal(r.status, undefined, `a plaintext request got an HTTP answer: ${JSON.stringify(r)}`);
      assert.ok(r.error, JSON.stringify(r));
      await eventually(`${CALLEE}'s listener counts the failed handshake`, 10_000, async () => ((await errors()) > before ? true : undefined));
    });

    test('mesh apply of a changed policy is ACKed by every sidecar and takes effect with nothing restarted', { skip: SKIP_RUNNING, timeout: 300_000 }, async () => {
      const rt = await up();
      const markers = await rt.processMarkers();
      // A rate limit is route config (RDS): the inbound listener itself does not change.
      const rdsStat = new RegExp(`^http\\.inbound\\.rds\\.inbound\\|${rt.nodes.find((n) => n.node === CALLEE)!.inboundPort}\\.update_success$`);
      const rdsBefore = statSum(await rt.admin(CALLEE, '/stats'), rdsStat);
      const ldsBefore = statSum(await rt.admin(CALLEE, '/stats'), /^listener_manager\.lds\.update_success$/);
      renderedPolicies = fs.readFileSync(path.join(rt.meshDir, 'mesh_policies.yml'), 'utf8');
      editPolicies(rt.meshDir, (doc) => doc.setIn(['rate_limits', CALLEE, 'rps'], 5));
      const url = await rt.controlPlaneAdminUrl();
      const r = await mesh(['apply', rt.meshDir, '--server', url, '--pki', setup!.pkiDir, '--admin', 'ops', '--wait', '--timeout', '60s']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const acked = /all (\d+) connected node\(s\) ACKed revision (\S+)/.exec(r.stdout);
      assert.ok(acked, r.stdout);
      assert.equal(Number(acked[1]), rt.nodes.length, `every sidecar ACKed (${r.stdout.trim()})`);
      const status = await controlPlaneStatus(adminClient(setup!.pkiDir, url));
      assert.equal(status.revision, acked[2]);
      for (const n of rt.nodes) assert.ok(status.nodes.some((x) => x.node === n.node && x.connected && x.inSync && !x.nacked), `${n.node} in sync at ${status.revision}`);
      await eventually(`${CALLEE}'s Envoy took its new inbound route over RDS`, 10_000, async () => (statSum(await rt.admin(CALLEE, '/stats'), rdsStat) > rdsBefore ? true : undefined));
      assert.equal(statSum(await rt.admin(CALLEE, '/stats'), /^listener_manager\.lds\.update_success$/), ldsBefore, 'no listener was replaced (open connections keep serving)');
      assert.deepEqual(await rt.processMarkers(), markers, 'no container or process was restarted');
      rateLimited = true;
    });

    test(`over rate_limits ${CALLEE} answers 429`, { skip: SKIP_RUNNING, timeout: 300_000 }, async () => {
      const rt = await up();
      assert.ok(rateLimited, 'needs the rate limit applied by the test above');
      try {
        const results = await rt.outbound(CALLER, { to: CALLEE, ...PAYOUT, count: 40, concurrency: 10 });
        const codes = countBy(results);
        assert.ok((codes.get(429) ?? 0) > 0, `no 429 in ${JSON.stringify([...codes])}`);
        assert.ok((codes.get(202) ?? 0) > 0, `nothing got through: ${JSON.stringify([...codes])}`);
        assert.ok(statSum(await rt.admin(CALLEE, '/stats'), /http_local_rate_limit\.rate_limited$/) > 0, 'the local rate limiter counted them');
      } finally {
        // Back to the chapter's policies for what follows.
        fs.writeFileSync(path.join(rt.meshDir, 'mesh_policies.yml'), renderedPolicies!);
        const r = await mesh(['apply', rt.meshDir, '--server', await rt.controlPlaneAdminUrl(), '--pki', setup!.pkiDir, '--admin', 'ops', '--wait', '--timeout', '60s']);
        assert.equal(r.code, 0, r.stdout + r.stderr);
      }
    });

    test(`with ${CALLEE} stopped, outlier detection ejects it after max_failures (${MAX_FAILURES}) failures`, { skip: SKIP_RUNNING, timeout: 300_000 }, async () => {
      const rt = await up();
      const stats = async (): Promise<{ ejections: number; failures: number }> => {
        const text = await rt.admin(CALLER, '/stats');
        return {
          ejections: statSum(text, new RegExp(`^cluster\\.outbound\\|${CALLEE}(\\|[^.]*)?\\.outlier_detection\\.ejections_enforced_total$`)),
          failures: statSum(text, new RegExp(`^cluster\\.outbound\\|${CALLEE}(\\|[^.]*)?\\.upstream_rq_5xx$`)),
        };
      };
      // Deltas: an earlier test (or a slow machine) may already have moved these counters.
      const before = await stats();
      await rt.killApp(CALLEE);
      const seen: ProbeResult[] = [];
      const ejected = await eventually(`an ejection in ${CALLER}'s clusters for ${CALLEE}`, 60_000, async () => {
        seen.push(...(await rt.outbound(CALLER, { to: CALLEE, ...PAYOUT, count: 3 })));
        const s = await stats();
        return s.ejections > before.ejections ? s : undefined;
      });
      assert.ok(seen.every((r) => r.status === undefined || r.status >= 500), `calls to a stopped ${CALLEE} failed: ${JSON.stringify([...countBy(seen)])}`);
      const failures = ejected.failures - before.failures;
      assert.ok(failures >= MAX_FAILURES, `ejected after ${failures} upstream failures, expected at least ${MAX_FAILURES}`);
      const clusters = await rt.admin(CALLER, '/clusters');
      assert.match(clusters, new RegExp(`^outbound\\|${CALLEE}[^\\n]*::health_flags::[^\\n]*failed_outlier_check`, 'm'), 'the host is marked failed_outlier_check');
    });
  });
}
