/**
 * The xDS bench's server process (pinned to core 0): the real control plane
 * (startControlPlane, as `mesh serve` runs it) plus instrumentation that only
 * listens: every response sent (StatusBoard.sent) and every ACK with its
 * push-to-ACK latency (StatusBoard listeners). Driven by bench/xds.ts over IPC.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ResourceKind } from '../src/envoy/resources';
import { readMeshSources } from '../src/xds/control-plane';
import type { Logger } from '../src/xds/log';
import { startControlPlane, type RunningControlPlane } from '../src/xds/serve';
import { checkSnapshot } from '../src/xds/snapshot';
import { serveRpc, startProfile } from './xds-ipc';
import { cpuSecondsSince, settleMemory, sleep, summarize, waitFor, type LatencySummary } from './xds-wire';

const SUBSCRIBED: readonly ResourceKind[] = ['listeners', 'routes', 'clusters', 'endpoints'];

/** What one phase did on the server: responses, ACKs and their latencies, CPU. */
class PhaseRecorder {
  readonly latencies: number[] = [];
  /** node|kind -> version sent and not yet ACKed. */
  readonly outstanding = new Map<string, string>();
  readonly pushesByKind: Record<string, number> = {};
  readonly nodesPushed = new Set<string>();
  readonly startedAt = Date.now();
  firstSentAt?: number;
  lastAckAt?: number;
  nacks = 0;
  private readonly cpu = process.cpuUsage();
  private readonly pushes0: number;
  private readonly bytes0: number;

  constructor(private readonly rp: RunningControlPlane) {
    this.pushes0 = rp.cp.metrics.pushes;
    this.bytes0 = rp.cp.metrics.pushBytes;
  }

  onSent(node: string, kind: ResourceKind, version: string): void {
    this.firstSentAt ??= Date.now();
    this.outstanding.set(`${node}|${kind}`, version);
    this.pushesByKind[kind] = (this.pushesByKind[kind] ?? 0) + 1;
    this.nodesPushed.add(node);
  }

  onAck(node: string, kind: ResourceKind, version: string, latencyMs: number | undefined): void {
    const key = `${node}|${kind}`;
    if (this.outstanding.get(key) === version) this.outstanding.delete(key);
    if (latencyMs === undefined) return; // a reconnect that already had the version: nothing was pushed
    this.latencies.push(latencyMs);
    this.lastAckAt = Date.now();
  }

  onNack(node: string, kind: ResourceKind): void {
    this.nacks++;
    this.outstanding.delete(`${node}|${kind}`);
  }

  finish(): PhaseStats {
    const pushes = this.rp.cp.metrics.pushes - this.pushes0;
    const bytes = this.rp.cp.metrics.pushBytes - this.bytes0;
    return {
      pushes,
      bytes,
      bytesPerPush: pushes > 0 ? Math.round(bytes / pushes) : 0,
      pushesByKind: this.pushesByKind,
      nodesPushed: this.nodesPushed.size,
      latency: summarize(this.latencies),
      unacked: this.outstanding.size,
      nacks: this.nacks,
      cpuS: cpuSecondsSince(this.cpu),
      startedAt: this.startedAt,
      ...(this.firstSentAt !== undefined ? { firstSentAt: this.firstSentAt } : {}),
      ...(this.lastAckAt !== undefined ? { lastAckAt: this.lastAckAt } : {}),
    };
  }
}

export interface PhaseStats {
  readonly pushes: number;
  readonly bytes: number;
  readonly bytesPerPush: number;
  readonly pushesByKind: Record<string, number>;
  readonly nodesPushed: number;
  readonly latency: LatencySummary;
  /** Responses never ACKed within the phase's time limit. */
  readonly unacked: number;
  readonly nacks: number;
  readonly cpuS: number;
  readonly startedAt: number;
  readonly firstSentAt?: number;
  readonly lastAckAt?: number;
}

/** When each node had ACKed the current version of all four subscribed types. */
class StormTracker {
  readonly complete = new Map<string, number>();
  private readonly have = new Map<string, Set<ResourceKind>>();

  constructor(private readonly rp: RunningControlPlane) {}

  onAck(node: string, kind: ResourceKind, version: string): void {
    if (!SUBSCRIBED.includes(kind) || this.complete.has(node)) return;
    if (this.rp.cp.cache.get(node)?.types[kind].version !== version) return;
    let set = this.have.get(node);
    if (!set) this.have.set(node, (set = new Set()));
    set.add(kind);
    if (set.size === SUBSCRIBED.length) this.complete.set(node, Date.now());
  }
}

let rp: RunningControlPlane | undefined;
let phase: PhaseRecorder | undefined;
let storm: StormTracker | undefined;
/** Nodes named by the control plane's 'endpoints changed' log lines (the callers it rebuilt). */
let endpointChanges: string[][] = [];
const serverErrors: string[] = [];
let policyRounds = 0;
let stormProfile: ((name: string) => void) | undefined;

const logger: Logger = {
  log(level, msg, fields) {
    if (msg === 'endpoints changed') endpointChanges.push((fields?.['nodes'] as string[] | undefined) ?? []);
    // Errors (e.g. a snapshot not served), NACKs and streams closed by the server all fail the bench.
    if (level === 'error' || msg === 'NACK' || msg === 'closing stream') {
      serverErrors.push(`${msg} ${JSON.stringify(fields ?? {})}`.slice(0, 300));
    }
  },
};

function plane(): RunningControlPlane {
  if (!rp) throw new Error('bench server not started');
  return rp;
}

/** Listens to the StatusBoard; wraps `sent` (the board has no listener for it) without changing what it does. */
function instrument(p: RunningControlPlane): void {
  const status = p.cp.status;
  const sent = status.sent.bind(status);
  status.sent = (id, kind, version, nonce) => {
    sent(id, kind, version, nonce);
    phase?.onSent(id, kind, version);
  };
  status.subscribe({
    onAck: (id, kind, version, latencyMs) => {
      phase?.onAck(id, kind, version, latencyMs);
      storm?.onAck(id, kind, version);
    },
    onNack: (id, kind) => phase?.onNack(id, kind),
  });
}

function memory(m: NodeJS.MemoryUsage): { rss: number; heapUsed: number; external: number } {
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
}

/** Waits until every response sent in the phase is ACKed (after letting the cache's setImmediate flush run). */
async function settlePhase(timeoutMs: number): Promise<void> {
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  await waitFor(() => phase!.outstanding.size === 0, timeoutMs, 2);
}

serveRpc({
  async start(a: { meshDir: string }) {
    const t0 = Date.now();
    rp = await startControlPlane({ meshDir: a.meshDir, host: '127.0.0.1', xdsPort: 0, adminPort: 0, insecure: true, log: logger });
    const startupMs = Date.now() - t0;
    instrument(rp);
    return { port: rp.ports.xds, startupMs, nodes: rp.cp.cache.nodes().length, memory: memory(await settleMemory()) };
  },

  async memory() {
    return memory(await settleMemory());
  },

  stormBegin() {
    storm = new StormTracker(plane());
    phase = new PhaseRecorder(plane());
    stormProfile = startProfile();
  },

  async stormWait(a: { nodes: number; timeoutMs: number }) {
    await waitFor(() => storm!.complete.size >= a.nodes, a.timeoutMs, 5);
    stormProfile?.('server-storm');
    stormProfile = undefined;
    const stats = phase!.finish();
    const report = plane().cp.statusReport();
    const complete = Object.fromEntries(storm!.complete);
    storm = undefined;
    phase = undefined;
    return { complete, stats, inSync: report.nodes.filter((n) => n.inSync).length, connected: report.nodes.filter((n) => n.connected).length };
  },

  /** Registers one new instance (new address) of each service, `intervalMs` apart; its callers get EDS pushes. */
  async endpoints(a: { registrations: Array<{ service: string; port: number }>; intervalMs: number; timeoutMs: number }) {
    const p = plane();
    endpointChanges = [];
    phase = new PhaseRecorder(p);
    for (const [i, r] of a.registrations.entries()) {
      p.cp.registry.register({ service: r.service, version: 'v1', address: `10.200.${i >> 8}.${i & 255}`, port: r.port, ttlMs: 300_000 });
      await sleep(a.intervalMs);
    }
    await settlePhase(a.timeoutMs);
    const stats = phase.finish();
    phase = undefined;
    const expected = new Set(endpointChanges.flat());
    const kinds = Object.keys(stats.pushesByKind);
    return { stats, changes: endpointChanges.length, steps: endpointChanges, expectedNodes: expected.size, expectedPushes: endpointChanges.reduce((n, c) => n + c.length, 0), onlyEndpoints: kinds.length === 1 && kinds[0] === 'endpoints' };
  },

  /** `mesh apply` of the sources in meshDir, timed from the apply call to the last ACK. */
  async policy(a: { meshDir: string; timeoutMs: number }) {
    const p = plane();
    const sources = readMeshSources(a.meshDir); // read by the `mesh apply` client, not by the server
    phase = new PhaseRecorder(p);
    // The event loop's worst delay from the apply call to the last ACK (bench/apply.ts's target): a
    // synchronous apply shows as a delay as long as itself.
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    // Its timer must have run once: a loop blocked before the first tick records nothing.
    await sleep(30);
    const t0 = Date.now();
    const cpu0 = process.cpuUsage();
    // As `mesh apply` reaches it through the admin API: prepared in event-loop slices (src/xds/admin.ts).
    const result = await p.cp.applyAsync(sources, a.meshDir);
    const applyMs = Date.now() - t0;
    const applyCpuS = cpuSecondsSince(cpu0);
    const prof = startProfile();
    if (!result.ok) {
      const first = result.diagnostics.find((d) => d.severity === 'error');
      throw new Error(`the bench policy change does not apply: ${first?.code} ${first?.message}`);
    }
    await settlePhase(a.timeoutMs);
    prof?.(`server-policy-${++policyRounds}`);
    const stats = phase.finish();
    phase = undefined;
    loop.disable();
    const loopDelayMaxMs = Math.round(loop.max / 1e6);
    return { stats, applyStartedAt: t0, applyMs, applyCpuS, changedNodes: result.changedNodes?.length ?? 0, recomputedNodes: result.recomputedNodes ?? 0, loopDelayMaxMs, stagesMs: result.stagesMs ?? {} };
  },

  /** The largest type of any snapshot (a wildcard response's size, near enough) and any unservable snapshot. */
  snapshots() {
    const p = plane();
    let largest = { bytes: 0, node: '', kind: '' };
    const problems: string[] = [];
    for (const id of p.cp.cache.nodes()) {
      const s = p.cp.cache.get(id)!;
      for (const [kind, t] of Object.entries(s.types)) if (t.bytes > largest.bytes) largest = { bytes: t.bytes, node: id, kind };
      problems.push(...checkSnapshot(s).map((x) => `${x.node} ${x.kind}: ${x.message}`));
    }
    return { largest, problems, serverErrors };
  },

  async stop() {
    await rp?.stop();
    rp = undefined;
  },
});
