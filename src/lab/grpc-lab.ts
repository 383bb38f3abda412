/**
 * `npm start` without Envoy (or `npm start -- --grpc`): the chapter's 90-second lab, on one machine, on a live data
 * plane, with proxyless gRPC members. Everything it starts is a child process of this one and is stopped
 * at the end, on an error, and on Ctrl-C. docs/lab.md walks through it.
 *
 *   1. copy examples/ceq-grpc to a temp folder with free ports; lint, build, issue certificates
 *   2. start the control plane (`mesh serve`)
 *   3. start grant-pay v1 and v2 and impact-calc (the gRPC example apps, proxyless)
 *   4. the $200,000 payout for HWY-94: status and trace id
 *   5. grant-pay v1 hangs: calls time out, then the circuit opens (outlier ejection)
 *   6. `mesh apply`: all traffic to v2, live, nothing restarted
 *   7. `mesh apply`: impact-calc's access to grant-pay revoked, live
 */
import * as path from 'node:path';
import { MESH_BIN, runMesh, summarizeLint, type CliRun } from './cli';
import { dialWithIdentity } from './direct-dial';
import { ProcessGroup, type LabProcess, type Line } from './processes';
import { prepareWorkDir, revokeCall, setSplit, type WorkDir } from './workdir';

const APPS = path.join(__dirname, '..', '..', 'examples', 'ceq', 'apps', 'grpc');
/** How often impact-calc sends a payout during the lab (calls overlap: a hung callee shows as calls in flight). */
const PAYOUT_EVERY_MS = 200;
const START_TIMEOUT_MS = 30_000;

const say = (text = ''): void => void process.stdout.write(`${text}\n`);
const indent = (text: string, prefix = '    '): string => text.trimEnd().split('\n').map((l) => `${prefix}${l}`).join('\n');

/** One line impact-calc printed: `Status: OK Trace: <id> (grant-pay v1, 12 ms)` or `Status: <CODE> Trace: <id> (<ms> ms: <details>)`. */
interface Payout {
  readonly status: string;
  readonly trace: string;
  readonly version?: string;
  readonly ms: number;
  readonly details?: string;
  readonly at: number;
  readonly text: string;
}

function parsePayout(l: Line): Payout | undefined {
  const m = /^Status: (\S+) Trace: (\S+) \((?:grant-pay (v\d+), )?(\d+) ms(?:: (.*))?\)$/.exec(l.text);
  if (!m) return undefined;
  return { status: m[1]!, trace: m[2]!, ...(m[3] ? { version: m[3] } : {}), ms: Number(m[4]), ...(m[5] ? { details: m[5] } : {}), at: l.at, text: l.text };
}

async function mesh(args: readonly string[], work: WorkDir, show: (r: CliRun) => string = (r) => r.stdout): Promise<CliRun> {
  say(`  $ mesh ${args.join(' ')}`);
  const r = await runMesh(args, work.root);
  const shown = show(r);
  if (shown.trim() !== '') say(indent(shown));
  if (r.code !== 0) throw new Error(`mesh ${args[0]} exited ${r.code}:\n${indent(r.stdout + r.stderr)}`);
  return r;
}

function payouts(p: LabProcess, since: number): Payout[] {
  return p.lines.filter((l) => l.at >= since && l.stream === 'stdout').map(parsePayout).filter((x): x is Payout => x !== undefined);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function setup(work: WorkDir): Promise<void> {
  say('1. Build the example, issue certificates');
  say(`  (a copy of examples/ceq-grpc in ${work.root}, on free ports)`);
  await mesh(['lint', 'mesh'], work, (r) => `${summarizeLint(r)} (what proxyless gRPC cannot enforce: \`mesh lint\` explains each)`);
  await mesh(['build', 'mesh', '--out', 'mesh/out'], work, (r) => r.stdout.split('\n').filter((l) => l !== '' && !/ warning /.test(l)).join('\n'));
  await mesh(['certs', 'init', '--mesh', 'mesh'], work);
  await mesh(['certs', 'issue', '--mesh', 'mesh'], work, (r) => r.stdout.split('\n').map((l) => l.split(' not after')[0]).join('\n'));
  await mesh(['certs', 'issue', '--mesh', 'mesh', '--control-plane', '--admin', 'ops'], work, () => '');
}

async function startAll(work: WorkDir, group: ProcessGroup): Promise<{ gp1: LabProcess; gp2: LabProcess; ic: LabProcess }> {
  say();
  say('2. Start the control plane');
  say('  $ mesh serve mesh --store store');
  const cp = group.start('control-plane', [MESH_BIN, 'serve', 'mesh', '--store', 'store'], {}, { cwd: work.root, infrastructure: true });
  say(indent(`${(await cp.waitFor(/^mesh serve:/, START_TIMEOUT_MS, 'listening line')).text} (pid ${cp.pid})`));

  say();
  say('3. Start grant-pay v1 and v2 (each registers itself), then impact-calc');
  const env = { HMS_MESH_DIR: work.meshDir };
  const gp1 = group.start('grant-pay-v1', [path.join(APPS, 'grant-pay.js')], { ...env, VERSION: 'v1', PORT: String(work.ports.grantPayV1) });
  const gp2 = group.start('grant-pay-v2', [path.join(APPS, 'grant-pay.js')], { ...env, VERSION: 'v2', PORT: String(work.ports.grantPayV2) });
  for (const p of [gp1, gp2]) say(`  ${p.name} (pid ${p.pid}) | ${(await p.waitFor(/^grant-pay v\d+ serving on/, START_TIMEOUT_MS, '"serving" line')).text}`);
  const ic = group.start('impact-calc', [path.join(APPS, 'impact-calc.js')], { ...env, EVERY_MS: String(PAYOUT_EVERY_MS), HMS_TRACE_LOG: '1' });
  say(`  impact-calc (pid ${ic.pid}) | sends the payout every ${PAYOUT_EVERY_MS} ms`);
  return { gp1, gp2, ic };
}

async function firstPayout(gp1: LabProcess, gp2: LabProcess, ic: LabProcess): Promise<void> {
  say();
  say('4. impact-calc pays the $200,000 grant for HWY-94 through grant-pay');
  const ok = parsePayout(await ic.waitFor((l) => parsePayout(l)?.status === 'OK', START_TIMEOUT_MS, 'successful payout'))!;
  say(`  impact-calc | ${ok.text}`);
  const traceLog = await ic.waitFor((l) => l.text.startsWith(`[TRACE ${ok.trace.slice(0, 6)}]`), 5000, 'trace log line').catch(() => undefined);
  if (traceLog) say(`  impact-calc | ${traceLog.text}`);
  const payer = ok.version === 'v1' ? gp1 : gp2;
  const ach = await payer.waitFor((l) => l.text.includes(ok.trace), 5000, 'ACH line');
  say(`  ${payer.name} | ${ach.text}`);
  await sleep(2000);
  const seen = payouts(ic, 0).filter((p) => p.status === 'OK');
  const v1 = seen.filter((p) => p.version === 'v1').length;
  say(`  ${seen.length} payouts so far: ${v1} by v1, ${seen.length - v1} by v2 (the 90/10 canary split; over hundreds of calls it converges)`);
}

async function circuitOpens(gp1: LabProcess, ic: LabProcess): Promise<void> {
  say();
  say(`5. grant-pay v1 hangs (kill -STOP ${gp1.pid}): its calls time out, then the circuit opens`);
  say('  policy: circuit_breakers.grant-pay {max_failures: 3, reset_seconds: 30}, timeouts.grant-pay.request 2s');
  const t0 = Date.now();
  gp1.signal('SIGSTOP');
  let failures = 0;
  const fast: Payout[] = [];
  let okV2 = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the circuit did not open within 20 s')), 20_000);
    const off = ic.onLine((l) => {
      const p = parsePayout(l);
      if (!p || p.at < t0) return;
      if (p.status === 'OK') return void okV2++;
      if (p.status === 'UNAVAILABLE' && p.ms < 1000 && failures > 0) {
        fast.push(p);
        say(`  impact-calc | ${p.text}`);
        if (fast.length === 3) {
          clearTimeout(timer);
          off();
          resolve();
        }
        return;
      }
      failures++;
      say(`  impact-calc | ${p.text}`);
    });
  });
  say(`  circuit open: after ${failures} failed calls (${failures >= 3 ? 'at least max_failures 3' : 'fewer than expected'} within one second) grant-pay v1 was ejected;`);
  say(`  calls routed to it now fail in ${Math.max(...fast.map((p) => p.ms))} ms or less instead of hanging 2 s; it is tried again after reset_seconds.`);
  say(`  Meanwhile ${okV2} payout(s) went to v2 and succeeded.`);
}

async function applyLive(work: WorkDir, procs: readonly LabProcess[], ic: LabProcess, step: string, what: string, edit: () => void, settle: (p: Payout) => boolean): Promise<Payout[]> {
  say();
  say(`${step}. mesh apply: ${what}; nothing is restarted`);
  edit();
  await mesh(['apply', 'mesh', '--wait'], work, (r) => r.stdout.split('\n').filter((l) => /applied|ACKed|error|NACK/.test(l)).join('\n'));
  const applied = Date.now();
  // Calls already in flight to the hung v1 may still time out for up to 2 s; then look.
  await ic.waitFor((l) => l.at > applied + 2200 && parsePayout(l) !== undefined, 10_000, 'payout after the apply');
  await sleep(1000);
  const after = payouts(ic, applied + 2200);
  const good = after.filter(settle);
  for (const p of after.slice(0, 2)) say(`  impact-calc | ${p.text}`);
  say(`  ${good.length} of ${after.length} payouts since show the change; same processes, same pids (${procs.map((p) => `${p.name} ${p.pid}${p.running ? '' : ' (exited!)'}`).join(', ')})`);
  return after;
}

export async function runGrpcLab(): Promise<number> {
  say('HMS-SVC lab: the chapter\'s story end to end, proxyless gRPC members on one machine');
  say();
  const work = await prepareWorkDir();
  const group = new ProcessGroup(work.logDir);
  let finished = false;
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupted = true;
    say(`\n${sig}: stopping every process the lab started`);
    void group.stopAll().finally(() => {
      work.remove();
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await setup(work);
    const { gp1, gp2, ic } = await startAll(work, group);
    await firstPayout(gp1, gp2, ic);
    await circuitOpens(gp1, ic);
    const procs = [gp1, gp2, ic];
    const toV2 = await applyLive(work, procs, ic, '6', 'traffic.grant-pay.split v1: 0, v2: 100 (route around the hung v1)', () => setSplit(work.meshDir, 'grant-pay', { v1: 0, v2: 100 }), (p) => p.status === 'OK' && p.version === 'v2');
    if (!toV2.some((p) => p.status === 'OK' && p.version === 'v2') || toV2.some((p) => p.version === 'v1')) throw new Error('the split change was not seen by impact-calc');
    const revoked = await applyLive(work, procs, ic, '7', 'revoke impact-calc\'s access to grant-pay (access.grant-pay.allow, and the call in its manifest)', () => revokeCall(work.meshDir, 'impact-calc', 'grant-pay'), (p) => p.status !== 'OK');
    if (revoked.length === 0 || revoked.some((p) => p.status === 'OK')) throw new Error('the revocation was not seen by impact-calc');
    say('  impact-calc\'s mesh config no longer routes to grant-pay. And grant-pay itself refuses it:');
    const direct = await dialWithIdentity(path.join(work.meshDir, 'pki'), 'impact-calc', 'grant-pay', work.ports.grantPayV2);
    say(`  direct call to grant-pay v2 (127.0.0.1:${work.ports.grantPayV2}) with impact-calc's own certificate: ${direct.code}: ${direct.details}`);
    if (direct.code !== 'PERMISSION_DENIED') throw new Error(`grant-pay answered ${direct.code} to a revoked caller, not PERMISSION_DENIED`);
    finished = true;
  } catch (err) {
    if (!interrupted) say(`\nlab failed: ${(err as Error).message}`);
  }
  // After Ctrl-C the signal handler stops everything and exits.
  if (interrupted) return new Promise<number>(() => undefined);
  say();
  say('8. Stop every process the lab started (grant-pay deregisters itself on SIGTERM)');
  await group.stopAll();
  if (finished && process.env.HMS_LAB_KEEP !== '1') work.remove();
  else say(`  logs and files kept in ${work.root}`);
  say(finished ? '\nDone: discovery by name, mTLS, a trace id, a circuit that opens, and live policy changes.' : '');
  return finished ? 0 : 1;
}
