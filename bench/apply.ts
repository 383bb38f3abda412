/**
 * Bench: applies against a serving control plane with thousands of streams
 * (issue 20 items 1 and 2). The server and the clients are bench/xds.ts's
 * children (bench/xds-server.ts on core 0, bench/xds-clients.ts on core 1).
 * Phases:
 * 1. 2,000 services, 2,000 streams: a `defaults:` change touching every
 *    node, then one manifest changed; apply request -> last ACK, the number of
 *    nodes recomputed, and the event loop's worst delay during each.
 * 2. 10,000 services, 2,000 of them connected (the changed service's callers
 *    among them): one manifest changed; apply request -> last ACK.
 * Each figure printed with its target and met/MISSED; exits non-zero only on
 * errors. Run: `npm run bench -- apply`. Method and figures: docs/bench.md.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateMesh } from './gen-mesh';
import { report, runChildBench, type BenchChild } from './measure';
import { subscriptions } from './xds';
import { ChildRpc, detectPinning } from './xds-ipc';
import type { PhaseStats } from './xds-server';

const SMALL = 2000;
const LARGE = 10_000;
const CONNECTED = 2000;
const CHANNELS = 20;
const LOOP_DELAY_TARGET_MS = 50;
const ONE_MANIFEST_TARGET_MS = 300;
const DEFAULTS_TARGET_MS = 1500;
/** The whole bench stops past this: the 10,000-service start-up alone takes a minute or more on a loaded machine. */
const BUDGET_MS = 900_000;
const DEFAULTS_CHANGE = 'defaults:\n  timeouts:\n    request: 3s\n';
/** The service whose manifest changes: its static endpoint moves, so its callers' EDS changes too. */
const CHANGED = 'svc-00007';

const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');

interface PolicyRound {
  stats: PhaseStats;
  applyStartedAt: number;
  applyMs: number;
  /** CPU seconds of the server process during the apply (user + system, every thread). */
  applyCpuS: number;
  changedNodes: number;
  recomputedNodes: number;
  loopDelayMaxMs: number;
  /** Wall time of each stage of the apply (src/xds/control-plane.ts stageTimer). */
  stagesMs: Record<string, number>;
}

type Child = BenchChild;

interface Plane {
  readonly server: ChildRpc;
  readonly clients: ChildRpc;
}

/** A server on `meshDir` and clients streaming for the nodes of `nodesFile`, every one in sync. */
async function startPlane(meshDir: string, nodesFile: string, streams: number, children: Child[]): Promise<Plane> {
  const pin = detectPinning();
  const [serverCore, clientCore] = pin.pinned ? [0, 1] : [undefined, undefined];
  const server = ChildRpc.start('xds-server', path.join(__dirname, 'xds-server.js'), serverCore, ['--expose-gc', '--max-old-space-size=6144']);
  children.push(server);
  const started = await server.call<{ port: number; startupMs: number; nodes: number }>('start', { meshDir }, 600_000);
  const clients = ChildRpc.start('xds-clients', path.join(__dirname, 'xds-clients.js'), clientCore);
  children.push(clients);
  await server.call('stormBegin');
  await clients.call('connect', { port: started.port, nodesFile, channels: CHANNELS, mode: 'xds' });
  const st = await server.call<{ inSync: number }>('stormWait', { nodes: streams, timeoutMs: 120_000 }, 180_000);
  if (st.inSync < streams) throw new Error(`only ${st.inSync} of ${streams} streams in sync before the applies`);
  report('apply-setup', {
    services: started.nodes, streams, server_startup_ms: started.startupMs, pinning: pin.pinned ? 'server=core0,clients=core1' : `UNPINNED(${pin.why})`,
    cores: os.availableParallelism(), loadavg_1m: os.loadavg()[0]!.toFixed(2),
  });
  return { server, clients };
}

async function stopPlane(p: Plane): Promise<void> {
  await p.clients.call('close', { mode: 'xds' });
  await Promise.all([p.server.stop(), p.clients.stop()]);
}

async function applyRound(p: Plane, meshDir: string): Promise<PolicyRound> {
  const pol = await p.server.call<PolicyRound>('policy', { meshDir, timeoutMs: 60_000 }, 240_000);
  if (pol.stats.unacked > 0 || pol.stats.nacks > 0) throw new Error(`${pol.stats.unacked} responses unacked, ${pol.stats.nacks} NACKs`);
  return pol;
}

/** apply request -> last ACK; an apply that pushed nothing ends when it returns. */
const toLastAck = (pol: PolicyRound): number => (pol.stats.lastAckAt ?? pol.applyStartedAt + pol.applyMs) - pol.applyStartedAt;

/** The changed service's static endpoint moves to another address (the manifest's only change). */
function editManifest(meshDir: string, round: number): void {
  const file = path.join(meshDir, 'services', `${CHANGED}.yml`);
  const text = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, text.replace(/address: [0-9.]+/, `address: 10.99.0.${round}`));
}

function figures(pol: PolicyRound): Record<string, string | number> {
  return {
    apply_ms: pol.applyMs, apply_to_last_ack_ms: toLastAck(pol), apply_cpu_s: pol.applyCpuS.toFixed(2), recomputed_nodes: pol.recomputedNodes, changed_nodes: pol.changedNodes,
    nodes_pushed: pol.stats.nodesPushed, pushes: pol.stats.pushes, loop_delay_max_ms: pol.loopDelayMaxMs,
    stages_ms: Object.entries(pol.stagesMs ?? {}).map(([k, v]) => `${k}:${v}`).join(','),
  };
}

async function smallMesh(work: string, children: Child[], verdicts: Record<string, boolean>): Promise<void> {
  const meshDir = path.join(work, 'mesh-2k');
  generateMesh(meshDir, SMALL, 5);
  const subs = subscriptions(meshDir);
  const nodesFile = path.join(work, 'nodes-2k.json');
  fs.writeFileSync(nodesFile, JSON.stringify(subs.nodes));
  const p = await startPlane(meshDir, nodesFile, subs.nodes.length, children);
  const policyFile = path.join(meshDir, 'mesh_policies.yml');
  fs.appendFileSync(policyFile, DEFAULTS_CHANGE);
  const defaults = await applyRound(p, meshDir);
  verdicts['defaults'] = toLastAck(defaults) < DEFAULTS_TARGET_MS && defaults.changedNodes === SMALL;
  report('apply-defaults', { services: SMALL, streams: subs.nodes.length, ...figures(defaults), target: `apply -> last ACK < ${DEFAULTS_TARGET_MS} ms`, result: verdict(verdicts['defaults']) });
  editManifest(meshDir, 1);
  const one = await applyRound(p, meshDir);
  report('apply-one-2k', { services: SMALL, streams: subs.nodes.length, ...figures(one), target: 'informational (the 10,000-service figure has the target)' });
  const worst = Math.max(defaults.loopDelayMaxMs, one.loopDelayMaxMs);
  verdicts['loop_delay'] = worst < LOOP_DELAY_TARGET_MS;
  report('apply-loop-delay', {
    services: SMALL, streams: subs.nodes.length, defaults_change_ms: defaults.loopDelayMaxMs, one_manifest_ms: one.loopDelayMaxMs, max_ms: worst,
    target: `max event-loop delay during an apply < ${LOOP_DELAY_TARGET_MS} ms`, result: verdict(verdicts['loop_delay']),
  });
  await stopPlane(p);
}

async function largeMesh(work: string, children: Child[], verdicts: Record<string, boolean>): Promise<void> {
  const meshDir = path.join(work, 'mesh-10k');
  generateMesh(meshDir, LARGE, 5);
  const subs = subscriptions(meshDir);
  // The changed service and its callers first (they are the nodes the change reaches), then the rest in order.
  const reached = new Set([CHANGED, ...subs.nodes.filter((n) => n.endpoints.some((e) => e.includes(CHANGED))).map((n) => n.id)]);
  const connected = [...subs.nodes.filter((n) => reached.has(n.id)), ...subs.nodes.filter((n) => !reached.has(n.id))].slice(0, CONNECTED);
  const nodesFile = path.join(work, 'nodes-10k.json');
  fs.writeFileSync(nodesFile, JSON.stringify(connected));
  const p = await startPlane(meshDir, nodesFile, connected.length, children);
  const rounds: PolicyRound[] = [];
  for (let r = 1; r <= 3; r++) {
    editManifest(meshDir, r);
    rounds.push(await applyRound(p, meshDir));
    report('apply-one-10k-round', { round: r, ...figures(rounds[r - 1]!) });
  }
  const median = [...rounds].sort((a, b) => toLastAck(a) - toLastAck(b))[1]!;
  verdicts['one_manifest'] = toLastAck(median) < ONE_MANIFEST_TARGET_MS && rounds.every((x) => x.stats.nodesPushed >= 1);
  report('apply-one-10k', {
    services: LARGE, streams: connected.length, rounds: 3, ...figures(median), target: `median round apply -> last ACK < ${ONE_MANIFEST_TARGET_MS} ms`, result: verdict(verdicts['one_manifest']),
  });
  await stopPlane(p);
}

async function bench(work: string, children: Child[]): Promise<void> {
  const verdicts: Record<string, boolean> = {};
  const only = process.env.APPLY_BENCH_PHASES?.split(',') ?? ['2k', '10k'];
  if (only.includes('2k')) await smallMesh(work, children, verdicts);
  if (only.includes('10k')) await largeMesh(work, children, verdicts);
  const missed = Object.entries(verdicts).filter(([, ok]) => !ok).map(([k]) => k);
  report('apply-summary', {
    ...Object.fromEntries(Object.entries(verdicts).map(([k, ok]) => [k, verdict(ok)])), loadavg_1m: os.loadavg()[0]!.toFixed(2),
    overall: missed.length === 0 ? 'all-targets-met' : `MISSED:${missed.join(',')}`,
  });
}

export async function run(): Promise<void> {
  await runChildBench('apply', BUDGET_MS, bench);
}

if (require.main === module) void run();
