/**
 * `npm run bench -- envoy`: real Envoy sidecars (the project's pinned Envoy,
 * or ENVOY_BIN) connected to one `mesh serve` on this machine, as local
 * processes on loopback (src/compose/local-plan.ts gives each its ports).
 *
 *   - a policy change touching every sidecar (`defaults.timeouts.request`):
 *     apply request to each node's ACK, p50/p99 over nodes and rounds, and to
 *     the last ACK per round;
 *   - an endpoint change (one more registered instance of a service that N
 *     sidecars call): registration to each affected node's ACK, p99;
 *   - Envoy RSS per sidecar (VmRSS from /proc), after the changes.
 *
 * HMS_BENCH_ENVOYS sets the count (default 100). Each figure is printed with
 * its target and met/MISSED; a miss is reported, not an error.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { detectEnvoyBin } from '../src/compose/availability';
import { freeRange } from '../src/compose/free-ports';
import { buildLocalPlan, localPorts, type LocalPlan } from '../src/compose/local-plan';
import { LocalRuntime } from '../src/compose/local-run';
import { runCommand } from '../src/compose/runtime';
import { MESH_BIN } from '../src/compose/local-plan';
import { admin, initCa, issueIdentities, loadCredentials, service, controlPlane } from '../src/pki';
import { Registration } from '../src/sdk/registration';
import { adminRequest, type AdminClientOptions } from '../src/xds/admin-client';
import type { StatusReport } from '../src/xds/control-plane';
import { report } from './measure';

const N = Number(process.env.HMS_BENCH_ENVOYS ?? 100);
const ROUNDS = 5;
const TARGET = { applyLastAckP99Ms: 5000, endpointAckP99Ms: 1000, rssPerSidecarMb: 64 };
const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
const name = (i: number): string => `svc-${String(i).padStart(3, '0')}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

/** N HTTP services behind Envoy, each calling the next three (so each service has three callers). */
function writeMesh(dir: string, timeout: string): void {
  fs.mkdirSync(path.join(dir, 'services'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'mesh.yml'), 'name: bench\ntrust_domain: bench.local\n');
  const access: string[] = [];
  for (let i = 0; i < N; i++) {
    const calls = [1, 2, 3].map((d) => name((i + d) % N));
    fs.writeFileSync(path.join(dir, 'services', `${name(i)}.yml`), `name: ${name(i)}\nversion: v1\nprotocol: http\nport: ${30000 + i}\nmesh_port: ${31000 + i}\ncalls:\n${calls.map((c) => `  - ${c}\n`).join('')}`);
    access.push(`  ${name(i)}:\n    allow: [${[1, 2, 3].map((d) => name((i - d + N) % N)).join(', ')}]`);
  }
  writePolicies(dir, timeout, access);
}

function writePolicies(dir: string, timeout: string, access?: string[]): void {
  const file = path.join(dir, 'mesh_policies.yml');
  const accessBlock = access ? `access:\n${access.join('\n')}\n` : fs.readFileSync(file, 'utf8').slice(fs.readFileSync(file, 'utf8').indexOf('access:'));
  fs.writeFileSync(file, `defaults:\n  timeouts: { request: ${timeout} }\n${accessBlock}`);
}

async function status(client: AdminClientOptions): Promise<StatusReport> {
  return (await adminRequest<StatusReport>(client, 'GET', '/v1/status')).body;
}

/** Polls /v1/status until every node in `nodes` has ACKed a `kind` version other than its `before`; ms per node from t0. */
async function ackTimes(client: AdminClientOptions, nodes: ReadonlyMap<string, string | undefined>, kind: string, t0: number, timeoutMs = 60_000): Promise<Map<string, number>> {
  const done = new Map<string, number>();
  while (done.size < nodes.size) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`only ${done.size}/${nodes.size} nodes ACKed ${kind} within ${timeoutMs} ms`);
    const s = await status(client);
    const now = Date.now();
    for (const n of s.nodes) {
      if (!nodes.has(n.node) || done.has(n.node)) continue;
      const t = (n.types as Record<string, { current?: string; acked?: string }>)[kind];
      if (t?.acked && t.acked === t.current && t.acked !== nodes.get(n.node)) done.set(n.node, now - t0);
    }
    await sleep(10);
  }
  return done;
}

function versionsOf(s: StatusReport, kind: string, only?: ReadonlySet<string>): Map<string, string | undefined> {
  return new Map(s.nodes.filter((n) => !only || only.has(n.node)).map((n) => [n.node, (n.types as Record<string, { acked?: string }>)[kind]?.acked]));
}

function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export async function run(): Promise<void> {
  const envoy = detectEnvoyBin();
  if (!envoy.bin) {
    report('envoy', { skipped: `"${envoy.why}"` });
    return;
  }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-bench-envoy-'));
  const meshDir = path.join(root, 'src-mesh');
  const pkiDir = path.join(root, 'pki');
  writeMesh(meshDir, '10s');
  await initCa(pkiDir, { trustDomain: 'bench.local' });
  await issueIdentities(pkiDir, [...Array.from({ length: N }, (_, i) => service(name(i))), controlPlane, admin('ops')], { trustDomain: 'bench.local' });
  const opts = { workDir: root, pkiDir, envoyBin: envoy.bin };
  const dry = buildLocalPlan(meshDir, { ...opts, basePort: 20000 });
  const plan = buildLocalPlan(meshDir, { ...opts, basePort: await freeRange('portRange' in dry ? dry.portRange : localPorts.range(0)) });
  if (!('conflicts' in plan)) throw new Error(plan.diagnostics.map((d) => d.message).join('; '));
  const rt = new LocalRuntime(plan as LocalPlan, root, pkiDir);
  const regs: Registration[] = [];
  try {
    const t0 = Date.now();
    await rt.up();
    const c = loadCredentials(pkiDir, admin('ops'));
    const client: AdminClientOptions = { server: await rt.controlPlaneAdminUrl(), tls: { caPem: c.trustBundlePem, certPem: c.chainPem, keyPem: c.keyPem } };
    for (let i = 0; ; i++) {
      const s = await status(client);
      if (s.nodes.filter((n) => n.connected && n.inSync).length === N) break;
      if (i > 3000) throw new Error('sidecars did not all connect');
      await sleep(50);
    }
    report('envoy-connect', { sidecars: N, all_acked_ms: Date.now() - t0 });

    // Policy change touching every sidecar: the default route timeout.
    const perNode: number[] = [];
    const lastAck: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      writePolicies(rt.meshDir, `${11 + round}s`);
      const before = versionsOf(await status(client), 'routes');
      const start = Date.now();
      const applied = runCommand([process.execPath, MESH_BIN, 'apply', rt.meshDir, '--server', client.server, '--pki', pkiDir, '--admin', 'ops'], { timeoutMs: 120_000 });
      const times = await ackTimes(client, before, 'routes', start);
      const r = await applied;
      if (r.code !== 0) throw new Error(`mesh apply: ${r.stdout}${r.stderr}`);
      perNode.push(...times.values());
      lastAck.push(Math.max(...times.values()));
    }
    const lastP99 = percentile(lastAck, 99);
    report('envoy-policy-push', {
      sidecars: N,
      rounds: ROUNDS,
      node_ack_p50_ms: percentile(perNode, 50),
      node_ack_p99_ms: percentile(perNode, 99),
      last_ack_p50_ms: percentile(lastAck, 50),
      last_ack_p99_ms: lastP99,
      target_last_ack_p99_ms: TARGET.applyLastAckP99Ms,
      verdict: verdict(lastP99 < TARGET.applyLastAckP99Ms),
    });

    // Endpoint change: one more instance of a service; its three callers get new EDS.
    const epTimes: number[] = [];
    for (let i = 0; i < 10; i++) {
      const target = name(i * 7 % N);
      const callers = new Set([1, 2, 3].map((d) => name(((i * 7 % N) - d + N) % N)));
      const before = versionsOf(await status(client), 'endpoints', callers);
      const svc = path.join(pkiDir, 'svc', target);
      const reg = new Registration({
        adminUrl: client.server,
        trustDomain: 'bench.local',
        files: { chain: path.join(svc, 'chain.pem'), key: path.join(svc, 'key.pem'), trustBundle: path.join(pkiDir, 'trust-bundle.pem') },
        instance: { service: target, version: 'v1', address: '127.0.0.1', port: 40000 + i },
        ttlMs: 60_000,
      });
      const start = Date.now();
      await reg.start();
      regs.push(reg);
      epTimes.push(...(await ackTimes(client, before, 'endpoints', start)).values());
    }
    const epP99 = percentile(epTimes, 99);
    report('envoy-endpoint-push', { changes: 10, acks: epTimes.length, ack_p50_ms: percentile(epTimes, 50), ack_p99_ms: epP99, target_p99_ms: TARGET.endpointAckP99Ms, verdict: verdict(epP99 < TARGET.endpointAckP99Ms) });

    const markers = await rt.processMarkers();
    const rss = Object.entries(markers).filter(([k]) => k.endsWith('-sidecar')).map(([, v]) => rssMb(Number(/pid (\d+)/.exec(v)![1])));
    const rssP50 = percentile(rss, 50);
    report('envoy-rss', { sidecars: rss.length, rss_p50_mb: rssP50.toFixed(1), rss_max_mb: Math.max(...rss).toFixed(1), total_gb: (rss.reduce((a, b) => a + b, 0) / 1024).toFixed(2), target_per_sidecar_mb: TARGET.rssPerSidecarMb, verdict: verdict(rssP50 < TARGET.rssPerSidecarMb) });
  } finally {
    for (const r of regs) await r.stop().catch(() => undefined);
    await rt.down();
    fs.rmSync(root, { recursive: true, force: true });
  }
}
