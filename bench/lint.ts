/**
 * Bench: lint a generated mesh of 5,000 services (~5 calls each), as `mesh
 * lint` does (parse pool included). Target: under 2 s. Each run is a fresh
 * process (cold JIT, as in CI); the median of RUNS is the figure, and the
 * spread is printed because this shared 2-core machine is noisy.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { defaultWorkers } from '../src/util/sync-pool';
import { lintMesh } from '../src/lint';
import { generateMesh } from './gen-mesh';
import { measure, report } from './measure';

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-bench-lint-'));
  try {
    const n = 5000;
    const g = generateMesh(dir, n);
    // The policy file of a 5,000-service mesh is itself larger than 1 MiB? check and say so.
    const policyBytes = fs.statSync(path.join(dir, 'mesh_policies.yml')).size;
    const runs: Array<{ ms: number; peakRssMb: number }> = [];
    for (let i = 0; i < RUNS; i++) {
      const r = spawnSync(process.execPath, ['--expose-gc', '-e', `require(${JSON.stringify(__filename)}).once(${JSON.stringify(dir)})`], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`lint run failed: ${r.stderr}`);
      runs.push(JSON.parse(r.stdout) as { ms: number; peakRssMb: number });
    }
    const times = runs.map((r) => r.ms).sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    report('lint', {
      services: g.services,
      call_edges: g.edges,
      policy_file_kb: Math.round(policyBytes / 1024),
      threads: 1 + defaultWorkers(),
      time_ms: median,
      runs_ms: times.join('/'),
      peak_rss_mb: Math.max(...runs.map((r) => r.peakRssMb)),
      target: '< 2000 ms',
      met: median < 2000 ? 'yes' : 'MISSED',
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const RUNS = 5;

/** One timed lint in this process; prints {ms, peakRssMb}. */
export async function once(dir: string): Promise<void> {
  const { ms, peakRssMb, value } = await measure(() => lintMesh(dir));
  const errors = value.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(`bench mesh does not lint clean: ${errors[0]!.code} ${errors[0]!.message}`);
  process.stdout.write(JSON.stringify({ ms, peakRssMb }));
}

if (require.main === module) void run();
