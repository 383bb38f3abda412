/**
 * Bench: the ADS server under 2,000 concurrent SotW streams, one node each,
 * on loopback. Three child processes: our control plane (bench/xds-server.ts,
 * core 0), the clients (bench/xds-clients.ts, core 1) and the floor
 * (bench/xds-floor.ts, core 0): plain grpc-js pushing the same bytes.
 * Phases: reconnect storm, memory per stream, endpoint-only changes, policy
 * changes touching every node (three rounds, each followed by the floor
 * replaying its bytes), response sizes. Figures and how they are measured:
 * docs/bench.md. Exits 0 when a target is missed (it says MISSED), non-zero
 * only on errors. Run: `npm run bench -- xds`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileMesh } from '../src/envoy/compile';
import type { JsonObject } from '../src/envoy/proto-json';
import { lintMesh } from '../src/lint';
import { MAX_RESPONSE_BYTES } from '../src/xds/snapshot';
import { generateMesh } from './gen-mesh';
import { report, runChildBench } from './measure';
import { ChildRpc, detectPinning } from './xds-ipc';
import { buildPeer, peerPresent, PeerRpc } from './xds-peer';
import type { PhaseStats } from './xds-server';
import { summarize, type LatencySummary, type NodeSubscriptions } from './xds-wire';

const SERVICES = 2000;
const FANOUT = 5;
const CHANNELS = 20;
const ENDPOINT_CHANGES = 100;
const ENDPOINT_INTERVAL_MS = 20;
/** Policy rounds (apply, revert, apply, ...): the verdicts use the median round, so one noisy second does not decide. */
const POLICY_ROUNDS = 5;
const STORM_TARGET_MS = 10_000;
const STORM_LIMIT_MS = 60_000;
const PER_STREAM_TARGET_KB = 200;
const ENDPOINT_P99_TARGET_MS = 500;
const POLICY_P99_TARGET_MS = 1000;
const FLOOR_RATIO_TARGET = 1.5;
/** Ours over go-control-plane's, on every figure: at or below 1. */
const PEER_RATIO_TARGET = 1;
/** The whole bench stops (killing its children) past this: five policy rounds and the peer take about 6 minutes. */
const BUDGET_MS = 540_000;
const POLICY_CHANGE = 'defaults:\n  timeouts:\n    request: 3s\n';

const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
const mb = (bytes: number): number => Math.round(bytes / 1048576);
const lat = (prefix: string, l: LatencySummary): Record<string, number> => ({ [`${prefix}p50_ms`]: l.p50, [`${prefix}p99_ms`]: l.p99, [`${prefix}max_ms`]: l.max });
const byType = (s: PhaseStats): string => Object.entries(s.pushesByKind).map(([k, n]) => `${k}:${n}`).join(',') || 'none';
const median = (xs: readonly number[]): number => summarize(xs).p50;

interface Mem {
  rss: number;
  heapUsed: number;
  external: number;
}

interface ClientStats {
  received: number;
  maxBytes: number;
  maxNode: string;
  maxType: string;
  errors: string[];
}

interface PolicyRound {
  stats: PhaseStats;
  applyStartedAt: number;
  applyMs: number;
  applyCpuS: number;
  changedNodes: number;
}

interface FloorRound {
  pushes: number;
  bytes: number;
  latency: LatencySummary;
  totalMs: number;
  cpuS: number;
  unacked: number;
  /** Messages from a client with nothing in flight: would mean the floor's timing is wrong. */
  strays: number;
}

interface Bench {
  readonly work: string;
  readonly meshDir: string;
  readonly nodesFile: string;
  readonly nodes: readonly NodeSubscriptions[];
  readonly server: ChildRpc;
  readonly clients: ChildRpc;
  readonly verdicts: Record<string, boolean>;
  /** Our figures the peer is compared with, filled as the phases run. */
  readonly ours: OursForPeer;
}

interface OursForPeer {
  stormP99Ms?: number;
  stormAllMs?: number;
  perStreamKb?: number;
  endpointsP99Ms?: number;
  policyP99Ms?: number;
  policyWindowMs?: number;
  endpointSteps?: string[][];
  endpointPushes?: number;
  policyRoundPushes?: number[];
}

/** Every route configuration name a listener references (HttpConnectionManager.rds), anywhere in its tree. */
function rdsNames(v: unknown, out: Set<string>): Set<string> {
  if (Array.isArray(v)) for (const x of v) rdsNames(x, out);
  else if (v && typeof v === 'object') {
    const o = v as JsonObject;
    const rds = o['rds'] as JsonObject | undefined;
    if (rds && typeof rds['route_config_name'] === 'string') out.add(rds['route_config_name']);
    for (const x of Object.values(o)) rdsNames(x, out);
  }
  return out;
}

/** What each node requests by name (RDS names of its listeners, EDS service names of its clusters), from the compiler, not the server. */
export function subscriptions(meshDir: string): { nodes: NodeSubscriptions[]; grpc: number; inboundPort: Map<string, number> } {
  const loaded = lintMesh(meshDir);
  if (!loaded.model) throw new Error('the bench mesh does not lint');
  const compiled = compileMesh(loaded.model);
  const nodes = compiled.nodes.map((n) => ({
    id: n.id,
    routes: [...rdsNames(n.resources.listeners, new Set())].sort(),
    endpoints: n.resources.clusters
      .filter((c) => c['type'] === 'EDS')
      .map((c) => ((c['eds_cluster_config'] as JsonObject | undefined)?.['service_name'] as string | undefined) ?? (c['name'] as string))
      .sort(),
  }));
  // A new instance serves where its node's inbound listener is (Envoy: the mesh port; gRPC: the xDS server's port).
  const inboundPort = new Map(compiled.nodes.map((n) => [n.id, n.ir.inbound.port]));
  return { nodes, grpc: compiled.nodes.filter((n) => n.kind === 'grpc').length, inboundPort };
}

/** 1 + 2: every stream connects at once; then the server's memory per connected stream. */
async function stormAndMemory(b: Bench, port: number): Promise<void> {
  const n = b.nodes.length;
  const before = await b.server.call<Mem>('memory');
  await b.server.call('stormBegin');
  await b.clients.call('capture', { on: true }); // every node's full state, for the peer to serve
  const conn = await b.clients.call<{ startedAt: number; openedMs: number }>('connect', { port, nodesFile: b.nodesFile, channels: CHANNELS, mode: 'xds' });
  const st = await b.server.call<{ complete: Record<string, number>; stats: PhaseStats; inSync: number }>('stormWait', { nodes: n, timeoutMs: STORM_LIMIT_MS }, STORM_LIMIT_MS + 30_000);
  await b.clients.call('capture', { on: false });
  await b.clients.call('dumpCapture', { dir: path.join(b.work, 'capture-storm') });
  const perNode = Object.entries(st.complete).map(([node, t]) => ({ node, ms: t - conn.startedAt }));
  b.ours.stormP99Ms = summarize(perNode.map((p) => p.ms)).p99;
  const slowest = perNode.reduce((a, x) => (x.ms > a.ms ? x : a), { node: '-', ms: -1 });
  const starved = n - perNode.filter((p) => p.ms <= STORM_TARGET_MS).length;
  b.verdicts['storm'] = starved === 0 && st.inSync === n;
  report('xds-storm', {
    streams: n, open_all_ms: conn.openedMs, full_config_nodes: perNode.length, all_full_config_ms: slowest.ms, ...lat('node_', summarize(perNode.map((p) => p.ms))),
    slowest_node: slowest.node, in_sync: `${st.inSync}/${n}`, over_10s: starved, pushes: st.stats.pushes, push_mb: mb(st.stats.bytes), ...lat('push_to_ack_', st.stats.latency),
    cpu_s: st.stats.cpuS.toFixed(2), target: `every node < ${STORM_TARGET_MS} ms`, result: verdict(b.verdicts['storm']),
  });
  const after = await b.server.call<Mem>('memory');
  const rssPerStream = (after.rss - before.rss) / n;
  const heapPerStream = (after.heapUsed + after.external - before.heapUsed - before.external) / n;
  b.ours.stormAllMs = slowest.ms;
  b.ours.perStreamKb = Math.max(rssPerStream, heapPerStream) / 1024;
  // RSS is the target's figure; the heap delta guards against RSS reusing pages the startup freed.
  b.verdicts['memory'] = Math.max(rssPerStream, heapPerStream) / 1024 < PER_STREAM_TARGET_KB;
  report('xds-memory', {
    streams: n, rss_before_mb: mb(before.rss), rss_after_mb: mb(after.rss), rss_per_stream_kb: (rssPerStream / 1024).toFixed(1), heap_before_mb: mb(before.heapUsed + before.external),
    heap_after_mb: mb(after.heapUsed + after.external), heap_per_stream_kb: (heapPerStream / 1024).toFixed(1), target: `< ${PER_STREAM_TARGET_KB} KB per stream`, result: verdict(b.verdicts['memory']),
  });
}

/** 3: one new instance (new address, on its inbound port) of each of 100 services, 20 ms apart; only their callers' EDS may change. */
async function endpointChanges(b: Bench, inboundPort: ReadonlyMap<string, number>): Promise<void> {
  // On the inbound port: a proxyless gRPC instance on another port would also get its own server Listener (gRFC A36).
  const registrations = Array.from({ length: ENDPOINT_CHANGES }, (_, i) => {
    const service = `svc-${String(i * Math.floor(SERVICES / ENDPOINT_CHANGES)).padStart(5, '0')}`;
    return { service, port: inboundPort.get(service)! };
  });
  await b.clients.call('capture', { on: true }); // the EDS pushes, for the peer to replay step by step
  const ep = await b.server.call<{ stats: PhaseStats; expectedNodes: number; expectedPushes: number; onlyEndpoints: boolean; steps: string[][] }>(
    'endpoints', { registrations, intervalMs: ENDPOINT_INTERVAL_MS, timeoutMs: 30_000 }, 90_000);
  await b.clients.call('capture', { on: false });
  await b.clients.call('dumpCapture', { dir: path.join(b.work, 'capture-endpoints') });
  b.ours.endpointsP99Ms = ep.stats.latency.p99;
  b.ours.endpointSteps = ep.steps;
  b.ours.endpointPushes = ep.stats.pushes;
  const onlyCallers = ep.onlyEndpoints && ep.stats.nodesPushed === ep.expectedNodes && ep.stats.pushes === ep.expectedPushes;
  b.verdicts['endpoints'] = ep.stats.latency.p99 < ENDPOINT_P99_TARGET_MS && ep.stats.unacked === 0 && onlyCallers;
  report('xds-endpoints', {
    services_changed: ENDPOINT_CHANGES, interval_ms: ENDPOINT_INTERVAL_MS, caller_nodes: ep.expectedNodes, nodes_pushed: ep.stats.nodesPushed, pushes: ep.stats.pushes, by_type: byType(ep.stats),
    only_callers_eds: onlyCallers ? 'yes' : 'NO', ...lat('push_to_ack_', ep.stats.latency), unacked: ep.stats.unacked, cpu_s: ep.stats.cpuS.toFixed(3), bytes_per_push: ep.stats.bytesPerPush,
    target: `p99 < ${ENDPOINT_P99_TARGET_MS} ms`, result: verdict(b.verdicts['endpoints']),
  });
}

/**
 * 4 + 5: POLICY_ROUNDS applies that each change every node (add the default
 * timeout, remove it, add it), each followed by the floor pushing the very
 * bytes the clients captured from that round, while our server idles. The
 * two alternate so both see the same machine, and the medians decide.
 */
async function policyAndFloor(b: Bench, floor: ChildRpc): Promise<ClientStats> {
  const policyFile = path.join(b.meshDir, 'mesh_policies.yml');
  const original = fs.readFileSync(policyFile, 'utf8');
  const ours: PolicyRound[] = [];
  const floors: FloorRound[] = [];
  for (let r = 1; r <= POLICY_ROUNDS; r++) {
    const adding = r % 2 === 1;
    fs.writeFileSync(policyFile, adding ? original + POLICY_CHANGE : original);
    await b.clients.call('capture', { on: true });
    await b.clients.call('profile', {});
    const pol = await b.server.call<PolicyRound>('policy', { meshDir: b.meshDir, timeoutMs: 60_000 }, 240_000);
    await b.clients.call('profile', { name: `clients-policy-${r}` });
    await b.clients.call('capture', { on: false });
    const captureDir = path.join(b.work, `capture-${r}`);
    const captured = await b.clients.call<{ messages: number }>('dumpCapture', { dir: captureDir });
    if (captured.messages !== pol.stats.pushes) throw new Error(`round ${r}: clients captured ${captured.messages} responses, the server sent ${pol.stats.pushes}`);
    await b.server.call('memory'); // collect the apply's garbage now, not during the floor's push on the same core
    // Our server is warm (the storm, the endpoint phase); warm the floor up the same way, untimed, once.
    if (r === 1) await floor.call<FloorRound>('push', { captureDir, timeoutMs: 60_000 }, 90_000);
    await b.clients.call('profile', {});
    const fl = await floor.call<FloorRound>('push', { captureDir, timeoutMs: 60_000 }, 90_000);
    if (fl.strays > 0) throw new Error(`round ${r}: the floor got ${fl.strays} messages it had not asked for`);
    await b.clients.call('profile', { name: `clients-floor-${r}` });
    ours.push(pol);
    floors.push(fl);
    const window = pol.stats.lastAckAt! - pol.stats.firstSentAt!;
    report('xds-policy-round', {
      round: r, change: adding ? 'add defaults.timeouts.request=3s' : 'remove it', changed_nodes: pol.changedNodes, nodes_pushed: pol.stats.nodesPushed, pushes: pol.stats.pushes,
      by_type: byType(pol.stats), ...lat('push_to_ack_', pol.stats.latency), unacked: pol.stats.unacked, nacks: pol.stats.nacks, push_window_ms: window,
      apply_ms: pol.applyMs, apply_to_last_ack_ms: pol.stats.lastAckAt! - pol.applyStartedAt, cpu_s: pol.stats.cpuS.toFixed(2), apply_cpu_s: pol.applyCpuS.toFixed(2),
      push_cpu_s: (pol.stats.cpuS - pol.applyCpuS).toFixed(2), bytes_per_push: pol.stats.bytesPerPush,
      floor_p99_ms: fl.latency.p99, floor_total_ms: fl.totalMs, ratio_p99: (pol.stats.latency.p99 / Math.max(1, fl.latency.p99)).toFixed(2), ratio_total: (window / Math.max(1, fl.totalMs)).toFixed(2),
    });
  }
  const n = b.nodes.length;
  const med = (f: (p: PolicyRound) => number): number => median(ours.map(f));
  const p99 = med((p) => p.stats.latency.p99);
  const window = med((p) => p.stats.lastAckAt! - p.stats.firstSentAt!);
  const allAcked = ours.every((p) => p.stats.unacked === 0 && p.stats.nacks === 0) && floors.every((f) => f.unacked === 0);
  b.ours.policyP99Ms = p99;
  b.ours.policyRoundPushes = ours.map((p) => p.stats.pushes);
  b.ours.policyWindowMs = window;
  b.verdicts['policy'] = p99 < POLICY_P99_TARGET_MS && allAcked && ours.every((p) => p.changedNodes === n && p.stats.nodesPushed === n);
  report('xds-policy', {
    rounds: POLICY_ROUNDS, changed_nodes: median(ours.map((p) => p.changedNodes)), pushes: med((p) => p.stats.pushes), push_to_ack_p50_ms: med((p) => p.stats.latency.p50),
    push_to_ack_p99_ms: p99, push_to_ack_max_ms: med((p) => p.stats.latency.max), push_window_ms: window, apply_ms: med((p) => p.applyMs),
    apply_to_last_ack_ms: med((p) => p.stats.lastAckAt! - p.applyStartedAt), cpu_s: med((p) => p.stats.cpuS).toFixed(2), apply_cpu_s: med((p) => p.applyCpuS).toFixed(2),
    push_cpu_s: med((p) => p.stats.cpuS - p.applyCpuS).toFixed(2), bytes_per_push: med((p) => p.stats.bytesPerPush), push_mb: (med((p) => p.stats.bytes) / 1048576).toFixed(1),
    target: `median round p99 < ${POLICY_P99_TARGET_MS} ms`, result: verdict(b.verdicts['policy']),
  });
  const floorP99 = median(floors.map((f) => f.latency.p99));
  const floorTotal = median(floors.map((f) => f.totalMs));
  const ratioP99 = p99 / Math.max(1, floorP99);
  const ratioTotal = window / Math.max(1, floorTotal);
  b.verdicts['floor'] = ratioP99 <= FLOOR_RATIO_TARGET && ratioTotal <= FLOOR_RATIO_TARGET && allAcked;
  report('xds-floor', {
    rounds: POLICY_ROUNDS, pushes: median(floors.map((f) => f.pushes)), bytes_per_push: median(floors.map((f) => Math.round(f.bytes / Math.max(1, f.pushes)))),
    push_to_ack_p50_ms: median(floors.map((f) => f.latency.p50)), push_to_ack_p99_ms: floorP99, push_to_ack_max_ms: median(floors.map((f) => f.latency.max)), total_ms: floorTotal,
    cpu_s: median(floors.map((f) => f.cpuS)).toFixed(2), ours_p99_ms: p99, ours_total_ms: window, ratio_p99: ratioP99.toFixed(2), ratio_total: ratioTotal.toFixed(2),
    target: `ours <= ${FLOOR_RATIO_TARGET}x floor (median rounds)`, result: verdict(b.verdicts['floor']),
  });
  return b.clients.call<ClientStats>('stats', { mode: 'xds' });
}

/** 6: the largest response any client received, and whether any snapshot would need one over the limit. */
async function sizes(b: Bench, cs: ClientStats): Promise<void> {
  const snaps = await b.server.call<{ largest: { bytes: number; node: string; kind: string }; problems: string[]; serverErrors: string[] }>('snapshots');
  if (snaps.serverErrors.length > 0) throw new Error(`the control plane logged errors: ${snaps.serverErrors.slice(0, 3).join('; ')}`);
  b.verdicts['size'] = cs.maxBytes <= MAX_RESPONSE_BYTES && snaps.problems.length === 0;
  report('xds-size', {
    max_response_bytes: cs.maxBytes, max_response_node: cs.maxNode, max_response_type: cs.maxType.split('.').pop() ?? '', responses_seen: cs.received,
    largest_snapshot_type_bytes: snaps.largest.bytes, largest_snapshot: `${snaps.largest.node}/${snaps.largest.kind}`, unservable_snapshots: snaps.problems.length,
    limit_bytes: MAX_RESPONSE_BYTES, result: verdict(b.verdicts['size']),
  });
}

interface PeerPhase {
  pushes: number;
  pushesByKind: Record<string, number>;
  nodesPushed: number;
  latency: LatencySummary;
  unacked: number;
  nacks: number;
  cpuS: number;
  firstSentAt: number;
  lastAckAt: number;
}

const ratio = (ours: number | undefined, peer: number): number => (ours ?? NaN) / Math.max(1, peer);

/**
 * 7: the peer, go-control-plane's snapshot cache (bench/peer), pinned to the
 * core ours had, serving the very responses ours pushed (captured by the
 * clients: the storm's full state, the endpoint phase step by step, each policy
 * round) to the same clients. Ratios are ours over the peer's.
 */
async function peerPhases(b: Bench, core: number | undefined, children: Child[]): Promise<void> {
  if (!peerPresent()) {
    report('xds-peer', { result: 'skipped: bench/peer is not in this checkout' });
    return;
  }
  const built = buildPeer(b.work);
  if ('why' in built) {
    b.verdicts['peer'] = false;
    report('xds-peer', { result: `MISSED: the peer could not be built (${built.why})` });
    return;
  }
  const peer = PeerRpc.start(built.binary, core);
  children.push(peer);
  const started = await peer.call<{ port: number; gomaxprocs: number; go: string }>('start');
  await peer.call('load', { captureDir: path.join(b.work, 'capture-storm') }, 120_000);
  const n = b.nodes.length;
  const before = await peer.call<Mem>('memory');
  await peer.call('stormBegin');
  const conn = await b.clients.call<{ startedAt: number }>('connect', { port: started.port, nodesFile: b.nodesFile, channels: CHANNELS, mode: 'peer' });
  const st = await peer.call<{ complete: Record<string, number>; stats: PeerPhase }>('stormWait', { nodes: n, timeoutMs: STORM_LIMIT_MS }, STORM_LIMIT_MS + 30_000);
  const perNode = Object.values(st.complete).map((t) => t - conn.startedAt);
  const storm = summarize(perNode);
  const after = await peer.call<Mem>('memory');
  const perStreamKb = Math.max(after.rss - before.rss, after.heapUsed - before.heapUsed) / n / 1024;
  report('xds-peer-storm', {
    server: `go-control-plane v0.14.0 (${started.go}, GOMAXPROCS=${started.gomaxprocs})`, streams: n, full_config_nodes: perNode.length, all_full_config_ms: storm.max, node_p50_ms: storm.p50,
    node_p99_ms: storm.p99, pushes: st.stats.pushes, ...lat('push_to_ack_', st.stats.latency), cpu_s: st.stats.cpuS.toFixed(2),
    rss_before_mb: mb(before.rss), rss_after_mb: mb(after.rss), per_stream_kb: perStreamKb.toFixed(1),
  });
  if (perNode.length < n) throw new Error(`only ${perNode.length} of ${n} nodes got their full config from the peer`);

  const ep = await peer.call<PeerPhase>('endpoints', { captureDir: path.join(b.work, 'capture-endpoints'), steps: b.ours.endpointSteps ?? [], intervalMs: ENDPOINT_INTERVAL_MS, timeoutMs: 30_000 }, 90_000);
  // The same responses, so the same pushes: anything else means the replay is not the same work.
  if (ep.pushes !== b.ours.endpointPushes) throw new Error(`the peer pushed ${ep.pushes} endpoint responses, ours ${b.ours.endpointPushes}`);
  report('xds-peer-endpoints', { steps: b.ours.endpointSteps?.length ?? 0, nodes_pushed: ep.nodesPushed, pushes: ep.pushes, by_type: Object.entries(ep.pushesByKind).map(([k, v]) => `${k}:${v}`).join(','), ...lat('push_to_ack_', ep.latency), unacked: ep.unacked, cpu_s: ep.cpuS.toFixed(3) });

  const rounds: PeerPhase[] = [];
  for (let r = 1; r <= POLICY_ROUNDS; r++) {
    const res = await peer.call<{ stats: PeerPhase; setMs: number }>('policy', { captureDir: path.join(b.work, `capture-${r}`), timeoutMs: 60_000 }, 120_000);
    const oursPushes = b.ours.policyRoundPushes?.[r - 1];
    if (res.stats.pushes !== oursPushes) throw new Error(`policy round ${r}: the peer pushed ${res.stats.pushes} responses, ours ${oursPushes}`);
    rounds.push(res.stats);
    report('xds-peer-policy-round', { round: r, pushes: res.stats.pushes, nodes_pushed: res.stats.nodesPushed, ...lat('push_to_ack_', res.stats.latency), push_window_ms: res.stats.lastAckAt - res.stats.firstSentAt, set_snapshots_ms: res.setMs, unacked: res.stats.unacked, nacks: res.stats.nacks, cpu_s: res.stats.cpuS.toFixed(2) });
  }
  const policyP99 = median(rounds.map((r) => r.latency.p99));
  const policyWindow = median(rounds.map((r) => r.lastAckAt - r.firstSentAt));
  const cs = await b.clients.call<ClientStats>('stats', { mode: 'peer' });
  if (cs.errors.length > 0) throw new Error(`client streams (peer) failed: ${cs.errors.slice(0, 3).join('; ')}`);
  await b.clients.call('close', { mode: 'peer' });
  await peer.stop();

  const ratios = {
    storm_p99: ratio(b.ours.stormP99Ms, storm.p99),
    endpoints_p99: ratio(b.ours.endpointsP99Ms, ep.latency.p99),
    policy_p99: ratio(b.ours.policyP99Ms, policyP99),
    memory_per_stream: (b.ours.perStreamKb ?? NaN) / Math.max(0.1, perStreamKb),
  };
  const allAcked = ep.unacked === 0 && rounds.every((r) => r.unacked === 0 && r.nacks === 0);
  b.verdicts['peer'] = allAcked && Object.values(ratios).every((x) => x <= PEER_RATIO_TARGET);
  report('xds-peer', {
    ours_storm_p99_ms: b.ours.stormP99Ms ?? NaN, peer_storm_p99_ms: storm.p99, ours_endpoints_p99_ms: b.ours.endpointsP99Ms ?? NaN, peer_endpoints_p99_ms: ep.latency.p99,
    ours_policy_p99_ms: b.ours.policyP99Ms ?? NaN, peer_policy_p99_ms: policyP99, ours_policy_window_ms: b.ours.policyWindowMs ?? NaN, peer_policy_window_ms: policyWindow,
    ours_kb_per_stream: (b.ours.perStreamKb ?? NaN).toFixed(1), peer_kb_per_stream: perStreamKb.toFixed(1),
    ...Object.fromEntries(Object.entries(ratios).map(([k, v]) => [`ratio_${k}`, v.toFixed(2)])),
    target: `ours <= ${PEER_RATIO_TARGET}x peer on every ratio`, result: verdict(b.verdicts['peer']),
  });
}

/** A child process the bench kills if it stops early. */
type Child = { kill(): void; readonly exited: Promise<void> };

async function bench(work: string, children: Child[]): Promise<void> {
  const meshDir = path.join(work, 'mesh');
  generateMesh(meshDir, SERVICES, FANOUT);
  const pin = detectPinning();
  const [serverCore, clientCore] = pin.pinned ? [0, 1] : [undefined, undefined];
  const server = ChildRpc.start('xds-server', path.join(__dirname, 'xds-server.js'), serverCore, ['--expose-gc']);
  children.push(server);
  const starting = server.call<{ port: number; startupMs: number; nodes: number }>('start', { meshDir }, 180_000);
  const subs = subscriptions(meshDir); // while the server applies the mesh on its own core
  const nodesFile = path.join(work, 'nodes.json');
  fs.writeFileSync(nodesFile, JSON.stringify(subs.nodes));
  const started = await starting;
  const clients = ChildRpc.start('xds-clients', path.join(__dirname, 'xds-clients.js'), clientCore);
  children.push(clients);
  report('xds-setup', {
    services: SERVICES, nodes: started.nodes, grpc_nodes: subs.grpc, envoy_nodes: started.nodes - subs.grpc, streams: subs.nodes.length, channels: CHANNELS,
    pinning: pin.pinned ? 'server=core0,clients=core1,floor=core0' : `UNPINNED(${pin.why})`, transport: 'plaintext(--insecure,no-TLS-handshake-cost)',
    server_startup_ms: started.startupMs, cores: os.availableParallelism(), loadavg_1m: os.loadavg()[0]!.toFixed(2),
  });
  const b: Bench = { work, meshDir, nodesFile, nodes: subs.nodes, server, clients, verdicts: {}, ours: {} };

  await stormAndMemory(b, started.port);
  await endpointChanges(b, subs.inboundPort);
  const floor = ChildRpc.start('xds-floor', path.join(__dirname, 'xds-floor.js'), serverCore);
  children.push(floor);
  const fs0 = await floor.call<{ port: number }>('start');
  await clients.call('connect', { port: fs0.port, nodesFile, channels: CHANNELS, mode: 'floor' });
  const fw = await floor.call<{ streams: number }>('waitStreams', { count: subs.nodes.length, timeoutMs: 30_000 }, 60_000);
  if (fw.streams < subs.nodes.length) throw new Error(`only ${fw.streams} of ${subs.nodes.length} streams reached the floor server`);
  const xdsClients = await policyAndFloor(b, floor);
  await sizes(b, xdsClients);

  for (const mode of ['xds', 'floor']) {
    const cs = await clients.call<ClientStats>('stats', { mode });
    if (cs.errors.length > 0) throw new Error(`client streams (${mode}) failed: ${cs.errors.slice(0, 3).join('; ')}`);
  }
  // Ours and the floor are done: their streams and processes go, so the peer has core 0 to itself as ours had.
  await clients.call('close', { mode: 'xds' });
  await clients.call('close', { mode: 'floor' });
  await Promise.all([server.stop(), floor.stop()]);
  await peerPhases(b, serverCore, children);
  await clients.stop();
  const missed = Object.entries(b.verdicts).filter(([, ok]) => !ok).map(([k]) => k);
  report('xds-summary', {
    ...Object.fromEntries(Object.entries(b.verdicts).map(([k, ok]) => [k, verdict(ok)])), loadavg_1m: os.loadavg()[0]!.toFixed(2),
    overall: missed.length === 0 ? 'all-targets-met' : `MISSED:${missed.join(',')}`,
  });
}

export async function run(): Promise<void> {
  await runChildBench('xds', BUDGET_MS, bench);
}

if (require.main === module) void run();
