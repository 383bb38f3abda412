/**
 * The chapter's Python apps through real Envoy sidecars, as the README's
 * 90-second lab runs them: `mesh dev` (control plane and sidecars), `mesh run
 * grant-pay -- python grant_pay.py`, `mesh run impact-calc -- python impact_calc.py`.
 * Asserts what the lab prints: the status, one trace id in the app's output and
 * both sidecars' access logs, the circuit after 3 failed calls with the SDK's
 * warning, 429 as RateLimited after a live `mesh apply`, 403 after access is
 * revoked (Envoy's body is the one the SDK recognises as Denied), and nothing left running.
 */
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { probe } from '../../src/compose/probe';
import { runCommand, type CmdResult } from '../../src/compose/runtime';
import { editYaml, revokeCall } from '../../src/lab/workdir';
import { PACKAGE_ROOT } from '../../src/paths';
import { adminRequest } from '../../src/xds/admin-client';
import { adminClient, availability, EXAMPLE, eventually, suiteSkip } from './harness';

const MESH = path.join(PACKAGE_ROOT, 'bin', 'mesh.js');
const PYTHON = path.join(PACKAGE_ROOT, '.venv', 'bin', 'python');
const APPS = path.join(EXAMPLE, 'apps', 'python');
const MAX_OUTPUT = 4 * 1024 * 1024;

class Running {
  out = '';
  readonly exited: Promise<number>;
  constructor(readonly child: ChildProcess) {
    const add = (c: Buffer): void => void (this.out = (this.out + c.toString()).slice(-MAX_OUTPUT));
    child.stdout!.on('data', add);
    child.stderr!.on('data', add);
    this.exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1))));
  }
  waitFor(re: RegExp, ms: number, what: string): Promise<RegExpExecArray> {
    return eventually(what, ms, async () => re.exec(this.out) ?? undefined);
  }
}

test('Python apps behind real sidecars: mesh dev + mesh run, 202 with one trace id, circuit after 3 failures, 429, 403', { skip: suiteSkip('local'), timeout: 170_000 }, async (t) => {
  if (!availability.envoyBin) throw new Error(`real Envoy is required under CI=true: ${availability.local}`);
  assert.ok(fs.existsSync(PYTHON), 'the project .venv with svcmesh (node scripts/setup-test-env.js)');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-pyapps-'));
  const procs: Running[] = [];
  const start = (args: string[]): Running => {
    const r = new Running(spawn(process.execPath, [MESH, ...args], { cwd: root, env: { ...process.env, ENVOY_BIN: availability.envoyBin! }, stdio: ['ignore', 'pipe', 'pipe'] }));
    procs.push(r);
    return r;
  };
  const meshRun = (service: string, argv: string[], timeoutMs = 30_000): Promise<CmdResult> =>
    runCommand([process.execPath, MESH, 'run', service, '--mesh', 'mesh', '--', PYTHON, ...argv], { cwd: root, env: { ...process.env, ENVOY_BIN: availability.envoyBin! }, timeoutMs });
  t.after(async () => {
    // Ctrl-C first, so mesh dev and mesh run stop their sidecars (a SIGKILL would orphan them); SIGKILL after 5 s.
    for (const p of procs.reverse()) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
      p.child.kill('SIGINT');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), 5000);
      await p.exited;
      clearTimeout(timer);
    }
    fs.rmSync(root, { recursive: true, force: true });
  });
  fs.cpSync(EXAMPLE, path.join(root, 'mesh'), { recursive: true, filter: (f) => !f.includes(`${path.sep}.mesh-dev`) });
  // As in the lab: the circuit stays open 3 s instead of 30, so grant-pay is reachable again soon.
  editYaml(path.join(root, 'mesh', 'mesh_policies.yml'), (d) => d.setIn(['circuit_breakers', 'grant-pay', 'reset_seconds'], 3));

  const dev = start(['dev', 'mesh']);
  await dev.waitFor(/^mesh dev: ready/m, 60_000, 'mesh dev ready');
  const adminUrl = /admin API (https:\/\/127\.0\.0\.1:\d+)/.exec(dev.out)![1]!;
  const state = JSON.parse(fs.readFileSync(path.join(root, 'mesh', '.mesh-dev', 'dev.json'), 'utf8')) as { meshDir: string; pkiDir: string; nodes: { node: string; inboundPort: number }[] };

  let grantPay = start(['run', 'grant-pay', '--mesh', 'mesh', '--', PYTHON, path.join(APPS, 'grant_pay.py')]);
  await grantPay.waitFor(/\[grant-pay\]  \* Running on/, 30_000, 'grant_pay.py serving');

  // 1. The payout: status and trace id, in the app's output and both sidecars' access logs.
  const payout = await meshRun('impact-calc', [path.join(APPS, 'impact_calc.py')]);
  assert.equal(payout.code, 0, payout.stdout + payout.stderr);
  const trace = /^\[impact-calc\] Status: 202 Trace: ([0-9a-f]{32})$/m.exec(payout.stdout)?.[1];
  assert.ok(trace, payout.stdout + payout.stderr);
  assert.match(payout.stderr, new RegExp(`^\\[impact-calc\\] \\[TRACE ${trace.slice(0, 6)}\\] http://grant-pay/payout 202 \\d+\\.\\d{3}s$`, 'm'));
  await dev.waitFor(new RegExp(`^\\[impact-calc sidecar\\] \\{.*"direction":"outbound".*"status":202.*"trace_id":"${trace}"`, 'm'), 10_000, 'the outbound access log line');
  await dev.waitFor(new RegExp(`^\\[grant-pay sidecar\\] \\{.*"direction":"inbound".*"peer":"spiffe://ceq.gov/svc/impact-calc".*"status":202.*"trace_id":"${trace}"`, 'm'), 10_000, 'the inbound access log line');
  assert.match(grantPay.out, new RegExp(`\\[grant-pay\\] \\[ACH\\] paying \\$200000 for HWY-94 \\(caller spiffe://ceq.gov/svc/impact-calc, trace ${trace}\\)`));

  // 2. grant_pay.py crashes (kill -9: it cannot deregister): mesh run exits with the app's status (128 + 9); then
  //    each run of impact_calc.py is one failed call (a POST is not retried) until the sidecar's circuit opens.
  const app = Number(execFileSync('pgrep', ['-P', String(grantPay.child.pid), '-f', 'grant_pay.py'], { encoding: 'utf8' }).trim().split('\n')[0]);
  process.kill(app, 'SIGKILL');
  assert.equal(await grantPay.exited, 137, grantPay.out.slice(-2000));
  const statuses: string[] = [];
  let warned: CmdResult | undefined;
  for (let i = 0; i < 10 && !warned; i++) {
    const r = await meshRun('impact-calc', [path.join(APPS, 'impact_calc.py')]);
    statuses.push(/Status: (\d+)/.exec(r.stdout)?.[1] ?? 'none');
    if (/svcmesh: WARNING circuit to grant-pay is OPEN/.test(r.stderr)) warned = r;
  }
  t.diagnostic(`runs after the kill: ${statuses.join(', ')}`);
  assert.ok(warned, `no circuit warning in ${statuses.length} runs: ${statuses.join(', ')}`);
  assert.ok(statuses.slice(0, -1).filter((s) => s === '503').length >= 3, `at least 3 failures before the circuit opened: ${statuses.join(', ')}`);
  assert.match(warned.stdout, /^\[impact-calc\] Mesh: CircuitOpen grant-pay: circuit open \(503\)$/m);

  // 3. grant-pay back; a live rate limit: the SDK types the sidecar's 429s.
  grantPay = start(['run', 'grant-pay', '--mesh', 'mesh', '--', PYTHON, path.join(APPS, 'grant_pay.py')]);
  await grantPay.waitFor(/\[grant-pay\]  \* Running on/, 30_000, 'grant_pay.py serving again');
  await eventually('the circuit closed', 30_000, async () => (/Status: 202/.test((await meshRun('impact-calc', [path.join(APPS, 'impact_calc.py')])).stdout) ? true : undefined));
  editYaml(path.join(state.meshDir, 'mesh_policies.yml'), (d) => d.setIn(['rate_limits', 'grant-pay', 'rps'], 2));
  const apply = async (): Promise<void> => {
    const r = await runCommand([process.execPath, MESH, 'apply', state.meshDir, '--server', adminUrl, '--pki', state.pkiDir, '--admin', 'ops', '--wait', '--timeout', '30s'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
  };
  await apply();
  const burst = [
    'import concurrent.futures as f, svcmesh as mesh',
    'mesh.init(service="impact-calc", version="v1")',
    'c = mesh.client("grant-pay")',
    'rs = list(f.ThreadPoolExecutor(10).map(lambda _: c.post("/payout", json={"project": "B", "usd": 1}, timeout=2), range(10)))',
    'print("burst", " ".join(sorted(f"{r.status_code}:{type(r.mesh_error).__name__}" for r in rs)))',
  ].join('\n');
  const b = await meshRun('impact-calc', ['-c', burst]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  assert.match(b.stdout, /burst .*202:NoneType/);
  assert.match(b.stdout, /burst .*429:RateLimited/);

  // 4. Access revoked: grant-pay's sidecar refuses impact-calc's own certificate with Envoy's RBAC reply (what svcmesh types as Denied),
  //    and an impact-calc started now no longer declares the call: refused before anything is sent.
  revokeCall(state.meshDir, 'impact-calc', 'grant-pay');
  await apply();
  const svc = path.join(state.pkiDir, 'svc', 'impact-calc');
  const inbound = state.nodes.find((n) => n.node === 'grant-pay')!.inboundPort;
  const direct = await eventually('403 from grant-pay', 20_000, async () => {
    const r = await probe({ host: '127.0.0.1', port: inbound, method: 'POST', path: '/payout', json: {}, tls: { ca: path.join(state.pkiDir, 'trust-bundle.pem'), cert: path.join(svc, 'chain.pem'), key: path.join(svc, 'key.pem'), servername: 'grant-pay' } });
    return r.status === 403 ? r : undefined;
  });
  assert.equal(direct.body?.trim(), 'RBAC: access denied');
  const refused = await meshRun('impact-calc', [path.join(APPS, 'impact_calc.py')]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /UndeclaredCallee: impact-calc does not call grant-pay/);

  // 5. Ctrl-C: the app deregisters and exits by SIGINT (mesh run: 130); mesh dev stops the control plane and the sidecars.
  grantPay.child.kill('SIGINT');
  assert.equal(await grantPay.exited, 130, grantPay.out.slice(-2000));
  const registry = await adminRequest(adminClient(state.pkiDir, adminUrl), 'GET', '/v1/registry');
  assert.equal(registry.status, 200);
  assert.doesNotMatch(JSON.stringify(registry.body), /grant-pay@/, 'grant_pay.py deregistered on SIGINT');
  dev.child.kill('SIGINT');
  assert.equal(await dev.exited, 0, dev.out.slice(-2000));
  let left = '';
  try {
    left = execFileSync('pgrep', ['-f', root], { encoding: 'utf8' }).trim();
  } catch {
    /* pgrep exits 1 when nothing matches */
  }
  assert.equal(left, '', 'no process of the lab is left running');
});
