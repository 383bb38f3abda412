/**
 * `npm run bench -- registry`: the live registry at scale, in one process,
 * through `registryAction` (what POST /v1/registry/<action> runs once the
 * caller's role is known: validation, governance, Registry, snapshot rebuild
 * of the callers) on a ControlPlane that applied a generated mesh.
 *
 *   - register 100,000 instances across 2,000 services (50 each): time
 *     (target < 30 s) and memory after (heap and RSS, target < 1 GB);
 *   - churn: 10,000 register/deregister cycles of a fresh address against a
 *     service with 500 fixed instances; heap + external memory after full
 *     GCs at the start and every 1,000 cycles (target: flat, growth < 20 MB).
 *
 * HMS_BENCH_REGISTRY_INSTANCES and HMS_BENCH_REGISTRY_CYCLES shrink the run.
 * Each figure is printed with its target and met/MISSED; a miss is reported,
 * not an error. Figures and how they are measured: docs/bench.md.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ControlPlane, readMeshSources } from '../src/xds/control-plane';
import { registryAction, type Role } from '../src/xds/admin';
import { silentLogger } from '../src/xds/log';
import { generateMesh } from './gen-mesh';
import { measure, report } from './measure';

const SERVICES = 2000;
const INSTANCES = Number(process.env.HMS_BENCH_REGISTRY_INSTANCES ?? 100_000);
const CYCLES = Number(process.env.HMS_BENCH_REGISTRY_CYCLES ?? 10_000);
const FIXED = 500;
const TARGET = { registerMs: 30_000, memoryMb: 1024, churnGrowthMb: 20 };
/** The longest TTL: nothing may expire while the bench runs (no heartbeats are sent). */
const TTL_MS = 300_000;
/** An admin may register any declared service, as `mesh serve --insecure` treats every caller. */
const ADMIN: Role = { kind: 'admin', name: 'bench' };

const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
const mb = (bytes: number): number => Math.round(bytes / 1048576);
const name = (i: number): string => `svc-${String(i).padStart(5, '0')}`;
/** Distinct addresses from 10.128.0.0/9 upward; gen-mesh's static endpoints are 10.0.x.y. */
const address = (n: number): string => `10.${128 + ((n >> 16) & 127)}.${(n >> 8) & 255}.${n & 255}`;
/** Instances register on their service's mesh port (gen-mesh: 20000 + i), so proxyless servers get no extra listener. */
const register = (cp: ControlPlane, svc: number, n: number): string =>
  (registryAction(cp, ADMIN, 'register', { service: name(svc), version: 'v1', address: address(n), port: 20000 + svc, ttl_ms: TTL_MS }, silentLogger) as { id: string }).id;
const deregister = (cp: ControlPlane, svc: number, id: string): void => void registryAction(cp, ADMIN, 'deregister', { service: name(svc), id }, silentLogger);
/** Lets the snapshot cache flush (setImmediate) and timers run, as between HTTP requests. */
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** After three full collections. `retainedMb` is V8 heap plus external memory: encodings are Buffers, outside the heap. */
function settledMemory(): { heapMb: number; rssMb: number; externalMb: number; retainedMb: number } {
  for (let i = 0; i < 3; i++) global.gc?.();
  const m = process.memoryUsage();
  return { heapMb: mb(m.heapUsed), rssMb: mb(m.rss), externalMb: mb(m.external), retainedMb: mb(m.heapUsed + m.external) };
}

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-bench-registry-'));
  const cp = new ControlPlane({ log: silentLogger });
  try {
    generateMesh(dir, SERVICES, 5);
    const applied = await measure(() => cp.apply(readMeshSources(dir)));
    if (!applied.value.ok) throw new Error(`apply failed: ${applied.value.diagnostics.map((d) => d.message).join('; ')}`);
    const base = settledMemory();
    report('registry-setup', { services: SERVICES, nodes: cp.cache.nodes().length, apply_ms: applied.ms, heap_mb: base.heapMb, rss_mb: base.rssMb, gc: global.gc ? 'exposed' : 'NOT-EXPOSED' });

    // 1. Bulk registration: instance n of service n % SERVICES, so every service grows evenly.
    const ids: string[] = [];
    const reg = await measure(async () => {
      for (let n = 0; n < INSTANCES; n++) {
        ids.push(register(cp, n % SERVICES, n));
        if (n % 500 === 499) await turn();
      }
    });
    const after = settledMemory();
    const memOk = after.rssMb < TARGET.memoryMb && after.heapMb < TARGET.memoryMb && reg.peakRssMb < TARGET.memoryMb;
    report('registry-register', {
      instances: cp.registry.size,
      services: SERVICES,
      register_ms: reg.ms,
      per_second: Math.round(INSTANCES / (reg.ms / 1000)),
      target_ms: TARGET.registerMs,
      result: verdict(reg.ms < TARGET.registerMs && cp.registry.size === INSTANCES),
    });
    report('registry-memory', {
      instances: cp.registry.size,
      heap_after_mb: after.heapMb,
      rss_after_mb: after.rssMb,
      external_after_mb: after.externalMb,
      peak_rss_mb: reg.peakRssMb,
      heap_growth_mb: after.heapMb - base.heapMb,
      encoder_entries: cp.encoderSize(),
      target_mb: TARGET.memoryMb,
      result: verdict(memOk),
    });
    const dereg = await measure(async () => {
      for (let n = 0; n < ids.length; n++) {
        deregister(cp, n % SERVICES, ids[n]!);
        if (n % 500 === 499) await turn();
      }
    });
    report('registry-deregister', { instances: ids.length, deregister_ms: dereg.ms, left: cp.registry.size });
    ids.length = 0;

    // 2. Churn: one service holds FIXED instances; each cycle registers a fresh address and removes it.
    const churnSvc = 1;
    for (let k = 0; k < FIXED; k++) register(cp, churnSvc, k);
    await turn();
    const samples: number[] = [];
    const churn = await measure(async () => {
      for (let c = 0; c < CYCLES; c++) {
        if (c % 1000 === 0) samples.push(settledMemory().retainedMb);
        deregister(cp, churnSvc, register(cp, churnSvc, FIXED + c));
        if (c % 100 === 99) await turn();
      }
      await turn();
    });
    const end = settledMemory();
    samples.push(end.retainedMb);
    const growth = end.retainedMb - samples[0]!;
    const maxGrowth = Math.max(...samples) - samples[0]!;
    report('registry-churn', {
      cycles: CYCLES,
      fixed_instances: FIXED,
      callers: cp.callersOf(name(churnSvc)),
      churn_ms: churn.ms,
      retained_start_mb: samples[0]!,
      retained_end_mb: end.retainedMb,
      retained_per_1000_mb: samples.join('/'),
      rss_end_mb: end.rssMb,
      growth_mb: growth,
      max_growth_mb: maxGrowth,
      encoder_entries: cp.encoderSize(),
      target_mb: TARGET.churnGrowthMb,
      result: verdict(maxGrowth < TARGET.churnGrowthMb),
    });
  } finally {
    cp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
