/**
 * `npm start` with real Envoy: the chapter's story, HTTP flavour, through real
 * Envoy sidecars on one machine. The control plane (`mesh serve`), one Envoy
 * per service (the project's pinned Envoy from .venv, or ENVOY_BIN) and the
 * Python example apps (examples/ceq/apps/python, with the svcmesh SDK from
 * the project's .venv; the Node ones in apps/http where that has no svcmesh)
 * run as child processes on free
 * loopback ports (the local-process plan of src/compose/local-plan.ts), and
 * are stopped at the end, on an error, and on Ctrl-C.
 *
 *   1. copy examples/ceq, issue certificates      5. grant-pay killed: the circuit opens
 *   2. start the control plane and the sidecars   6. `mesh apply` a rate limit: 429s
 *   3. start the apps (they register themselves)  7. `mesh apply` revoking access: refused
 *   4. the $200,000 payout: status, trace id in both sidecars' access logs
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freeRange } from '../compose/free-ports';
import { buildLocalPlan, localPorts, type LocalPlan } from '../compose/local-plan';
import { LocalRuntime } from '../compose/local-run';
import type { ProbeResult } from '../compose/probe';
import { EXAMPLES_DIR } from '../paths';
import { admin, loadCredentials } from '../pki';
import { adminRequest, type AdminClientOptions } from '../xds/admin-client';
import type { StatusReport } from '../xds/control-plane';
import { runMesh } from './cli';
import { editYaml, revokeCall } from './workdir';

/** reset_seconds of the lab's copy of examples/ceq (the example says 30). */
const LAB_RESET_SECONDS = 3;

const PAYOUT = { method: 'POST', path: '/payout', json: { project: 'HWY-94', usd: 200_000 } } as const;
const say = (text = ''): void => void process.stdout.write(`${text}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(200);
  }
}

function tally(results: readonly ProbeResult[]): string {
  const m = new Map<string, number>();
  for (const r of results) m.set(String(r.status ?? 'no answer'), (m.get(String(r.status ?? 'no answer')) ?? 0) + 1);
  // In status order, not arrival order: concurrent calls finish in any order, and the
  // line must read the same way every run (a CI run once printed the 429s first).
  return [...m].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${n} x ${k}`).join(', ');
}

/** The JSON access-log line of one trace id and direction in a sidecar's output. */
function accessLine(log: string, trace: string, direction: string): string | undefined {
  return log.split('\n').find((l) => l.includes(`"trace_id":"${trace}"`) && l.includes(`"direction":"${direction}"`));
}

class EnvoyLab {
  private readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-lab-envoy-'));
  private readonly pkiDir = path.join(this.root, 'pki');
  private readonly example = path.join(EXAMPLES_DIR, 'ceq');
  private rt?: LocalRuntime;
  private client?: AdminClientOptions;

  constructor(
    private readonly envoyBin: string,
    /** The Python that runs the example apps, or undefined for the Node apps. */
    private readonly python: string | undefined,
  ) {}

  private async mesh(args: readonly string[], show = true): Promise<string> {
    say(`  $ mesh ${args.join(' ')}`);
    const r = await runMesh(args, this.root);
    if (show && r.stdout.trim()) say(r.stdout.trimEnd().split('\n').map((l) => `    ${l}`).join('\n'));
    if (r.code !== 0) throw new Error(`mesh ${args[0]} exited ${r.code}:\n${r.stdout}${r.stderr}`);
    return r.stdout;
  }

  private get runtime(): LocalRuntime {
    if (!this.rt) throw new Error('bug: not started');
    return this.rt;
  }

  private status(): Promise<StatusReport> {
    return adminRequest<StatusReport>(this.client!, 'GET', '/v1/status').then((r) => r.body);
  }

  private call(count = 1, concurrency = 1): Promise<ProbeResult[]> {
    return this.runtime.outbound('impact-calc', { to: 'grant-pay', ...PAYOUT, count, concurrency });
  }

  private async apply(): Promise<void> {
    const out = await this.mesh(['apply', path.relative(this.root, this.runtime.meshDir), '--server', await this.runtime.controlPlaneAdminUrl(), '--pki', 'pki', '--admin', 'ops', '--wait', '--timeout', '30s'], false);
    say(`    ${out.trim().split('\n').pop()}`);
  }

  async setup(): Promise<void> {
    say(`1. Issue certificates for examples/ceq (in ${this.root}; the mesh is copied there with free loopback ports)`);
    await this.mesh(['certs', 'init', '--mesh', this.example, '--dir', 'pki'], false);
    await this.mesh(['certs', 'issue', '--mesh', this.example, '--dir', 'pki'], false);
    await this.mesh(['certs', 'issue', '--mesh', this.example, '--dir', 'pki', '--control-plane', '--admin', 'ops'], false);
    const opts = { workDir: this.root, pkiDir: this.pkiDir, envoyBin: this.envoyBin, ...(this.python ? { python: this.python } : {}) };
    const dry = buildLocalPlan(this.example, { ...opts, basePort: 20000 });
    const basePort = await freeRange('portRange' in dry ? dry.portRange : localPorts.range(0));
    const plan = buildLocalPlan(this.example, { ...opts, basePort });
    if (!('conflicts' in plan)) throw new Error(`the local plan has errors: ${plan.diagnostics.map((d) => d.message).join('; ')}`);
    this.rt = new LocalRuntime(plan as LocalPlan, opts.workDir, this.pkiDir);
    // The example's circuit stays open 30 s; the lab shortens it so that it is seen to close.
    editYaml(path.join(this.runtime.meshDir, 'mesh_policies.yml'), (doc) => doc.setIn(['circuit_breakers', 'grant-pay', 'reset_seconds'], LAB_RESET_SECONDS));
    say(`  (in the copy, circuit_breakers.grant-pay.reset_seconds is ${LAB_RESET_SECONDS} instead of 30, so the circuit is seen to close)`);
    const c = loadCredentials(this.pkiDir, admin('ops'));
    this.client = { server: await this.runtime.controlPlaneAdminUrl(), tls: { caPem: c.trustBundlePem, certPem: c.chainPem, keyPem: c.keyPem } };
  }

  async start(): Promise<void> {
    say();
    say(`2. Start the control plane and one Envoy sidecar per service (${this.envoyBin})`);
    await this.runtime.up();
    for (const n of this.runtime.nodes) say(`  ${n.node}: Envoy admin 127.0.0.1:${n.adminPort}, inbound mTLS :${n.inboundPort}, outbound :${n.outboundPort}`);
    await until('every sidecar ACKed its config', 60_000, async () => {
      const s = await this.status();
      return this.runtime.nodes.every((n) => s.nodes.some((x) => x.node === n.node && x.connected && x.inSync)) ? s : undefined;
    });
    say('  every sidecar connected over mTLS and ACKed its listeners, routes, clusters, endpoints and secrets');
    say();
    say('3. The apps started with their sidecars; each registered itself with the control plane');
    await until('grant-pay reachable by name', 60_000, async () => ((await this.call())[0]?.status === 202 ? true : undefined));
  }

  async payout(): Promise<void> {
    say();
    say('4. impact-calc pays the $200,000 grant for HWY-94 through grant-pay, by name');
    const r = await this.runtime.runApp('impact-calc');
    const line = /Status: (\d+) Trace: (\S+)/.exec(r.stdout);
    if (!line || line[1] !== '202') throw new Error(`impact-calc printed no 202:\n${r.stdout}${r.stderr}`);
    say(`  impact-calc | ${line[0]}`);
    const traced = /^\[TRACE \S+\] .*$/m.exec(r.stderr)?.[0];
    if (traced) say(`  impact-calc | ${traced}`);
    const trace = line[2]!;
    const out = await until('impact-calc\'s outbound access log', 10_000, async () => accessLine(await this.runtime.sidecarLog('impact-calc'), trace, 'outbound'));
    const inn = await until('grant-pay\'s inbound access log', 10_000, async () => accessLine(await this.runtime.sidecarLog('grant-pay'), trace, 'inbound'));
    say(`  impact-calc's sidecar (outbound) | ${out}`);
    say(`  grant-pay's sidecar (inbound)    | ${inn}`);
    const ach = this.runtime.appLog('grant-pay').split('\n').find((l) => l.includes(trace));
    if (ach) say(`  grant-pay | ${ach}`);
  }

  /** The sum of one outlier-detection stat over impact-calc's clusters (only grant-pay's can eject: it is the one killed). */
  private async outlierStat(stat: 'ejections_active' | 'ejections_enforced_total'): Promise<number> {
    const text = await this.runtime.admin('impact-calc', `/stats?filter=outlier_detection.${stat}`);
    return [...text.matchAll(/: (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
  }

  async circuit(): Promise<void> {
    say();
    say('5. grant-pay is killed (kill -9): calls fail, and after max_failures (3) the circuit opens');
    await this.runtime.killApp('grant-pay');
    const ejections = (): Promise<number> => this.outlierStat('ejections_enforced_total');
    const before = await ejections();
    const seen: ProbeResult[] = [];
    for (let i = 0; i < 20 && (await ejections()) === before; i++) seen.push(...(await this.call()));
    say(`  ${seen.length} calls before the circuit opened: ${tally(seen)}`);
    const open = await this.call(3);
    say(`  while open: ${open.map((r) => `${r.status ?? r.error} in ${r.ms} ms`).join(', ')} (fail fast, no wait for the timeout)`);
    // The app's own call must land while the ejection lasts (reset_seconds, 3 s here). On a loaded machine the Python
    // app can take longer than that to start; then its call meets the dead instance again (a connect failure, not
    // an open circuit) and re-trips it. So: at most 3 runs, each only once the circuit is open.
    let rerun = { stdout: '', stderr: '' };
    for (let attempt = 1; attempt <= 3; attempt++) {
      await until('the circuit open', 20_000, async () => ((await this.outlierStat('ejections_active')) > 0 ? true : ((await this.call()), undefined)));
      rerun = await this.runtime.runApp('impact-calc');
      if (/^Mesh: CircuitOpen/m.test(rerun.stdout)) break;
      say(`  (run ${attempt}: the circuit closed again while the Python app started, so its call was not failed fast; once more)`);
    }
    for (const l of `${rerun.stderr}\n${rerun.stdout}`.split('\n').filter((x) => /circuit to|^Status:|^Mesh:/.test(x))) say(`  impact-calc | ${l}`);
    say(`  grant-pay restarts and registers again; the circuit closes after reset_seconds (${LAB_RESET_SECONDS} s) and calls succeed`);
    const openedAt = Date.now();
    this.runtime.startApp('grant-pay');
    // Closed means every call succeeds again: v1's cluster (90 % of calls) no longer answers 503.
    await until('the circuit closed', 60_000, async () => ((await this.call(5)).every((r) => r.status === 202) ? true : undefined));
    say(`  closed ${((Date.now() - openedAt) / 1000).toFixed(1)} s after it opened: 5 calls in a row answered 202`);
  }

  async rateLimit(): Promise<void> {
    say();
    say('6. `mesh apply`: rate_limits.grant-pay.rps 5, live (nothing restarts)');
    const pids = await this.runtime.processMarkers();
    editYaml(path.join(this.runtime.meshDir, 'mesh_policies.yml'), (doc) => doc.setIn(['rate_limits', 'grant-pay', 'rps'], 5));
    await this.apply();
    const burst = await this.call(20, 10);
    say(`  20 calls at once: ${tally(burst)}`);
    if (!burst.some((r) => r.status === 429)) throw new Error('no 429 over the rate limit');
    const same = JSON.stringify(await this.runtime.processMarkers()) === JSON.stringify(pids);
    say(`  same processes, same pids: ${same ? 'yes' : 'NO'}`);
    if (!same) throw new Error('a process was restarted');
  }

  async revoke(): Promise<void> {
    say();
    say('7. `mesh apply`: impact-calc\'s access to grant-pay revoked (access.grant-pay.allow, and the call in its manifest)');
    revokeCall(this.runtime.meshDir, 'impact-calc', 'grant-pay');
    await this.apply();
    const direct = await this.runtime.inbound('grant-pay', { identity: 'impact-calc' }, PAYOUT);
    say(`  direct mTLS call to grant-pay's sidecar with impact-calc's own certificate: ${direct.status}`);
    const via = await this.call();
    say(`  through impact-calc's sidecar: ${via[0]?.status} (grant-pay is no longer in its routes)`);
    if (direct.status !== 403) throw new Error(`grant-pay answered ${direct.status} to a revoked caller, not 403`);
  }

  /** The tail of every app's output, after a failure. */
  showLogs(): void {
    for (const n of this.rt?.nodes ?? []) {
      const log = this.rt!.appLog(n.node).trim();
      if (log) say(`  --- ${n.node} app:\n${log.split('\n').slice(-10).map((l) => `    ${l}`).join('\n')}`);
    }
  }

  async stop(keep: boolean): Promise<void> {
    await this.rt?.down();
    if (keep) say(`  files kept in ${this.root}`);
    else fs.rmSync(this.root, { recursive: true, force: true });
  }
}

export async function runEnvoyLab(envoyBin: string, python?: string): Promise<number> {
  say(`HMS-SVC lab: the chapter's story through real Envoy sidecars, on one machine (${python ? 'Python apps: examples/ceq/apps/python' : 'Node apps: examples/ceq/apps/http'})`);
  say();
  const lab = new EnvoyLab(envoyBin, python);
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupted = true;
    say(`\n${sig}: stopping every process the lab started`);
    void lab.stop(false).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const started = Date.now();
  let ok = false;
  try {
    await lab.setup();
    await lab.start();
    await lab.payout();
    await lab.circuit();
    await lab.rateLimit();
    await lab.revoke();
    ok = true;
  } catch (err) {
    if (!interrupted) say(`\nlab failed: ${(err as Error).message}`);
    if (!interrupted) lab.showLogs();
  }
  if (interrupted) return new Promise<number>(() => undefined);
  say();
  say('8. Stop every process the lab started');
  await lab.stop(!ok || process.env.HMS_LAB_KEEP === '1');
  if (ok) say(`\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s: discovery by name, mTLS, one trace id in both sidecars, a circuit that opens, live policy changes.`);
  return ok ? 0 : 1;
}
