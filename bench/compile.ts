/**
 * Bench: compile generated meshes of 1,000 and 10,000 services (~5 calls
 * each) the way `mesh build` does: lint+model, then every node translated,
 * rendered and serialized into the out/ tree on every core (emitTree);
 * then the same with each node validated against the Envoy protos (what
 * `mesh build` runs before writing); then `mesh build` itself, end to end.
 * Peak memory and bytes per node.
 * Target: 10,000 services under 10 s, time linear in call edges (10k/1k).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PACKAGE_ROOT } from '../src/paths';
import { emitTree } from '../src/envoy/emit';
import { lintMesh } from '../src/lint';
import { defaultWorkers } from '../src/util/sync-pool';
import { generateMesh } from './gen-mesh';
import { measure, report } from './measure';

async function one(n: number): Promise<{ totalMs: number; edges: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hms-bench-compile-${n}-`));
  try {
    const g = generateMesh(dir, n);
    const load = await measure(() => lintMesh(dir));
    if (!load.value.model) throw new Error(`bench mesh does not lint: ${load.value.diagnostics[0]?.message}`);
    const tree = await measure(() => emitTree(load.value.model!, { pkiDir: '/etc/hms/pki' }));
    let bytes = 0;
    for (const file of tree.value.tree.values()) bytes += file.byteLength;
    const compileTotal = load.ms + tree.ms;
    report(`compile-${n}`, {
      services: n,
      call_edges: g.edges,
      threads: 1 + defaultWorkers(),
      lint_ms: load.ms,
      translate_render_tree_ms: tree.ms,
      total_ms: compileTotal,
      files: tree.value.tree.size,
      bytes_per_node: Math.round(bytes / tree.value.nodes),
      peak_rss_mb: Math.max(load.peakRssMb, tree.peakRssMb),
    });
    global.gc?.();
    const validated = await measure(() => emitTree(load.value.model!, { pkiDir: '/etc/hms/pki', validate: true }));
    report(`validate-${n}`, { services: n, compile_and_validate_ms: validated.ms, findings: validated.value.diagnostics.length, peak_rss_mb: validated.peakRssMb });
    report(`build-${n}`, buildCli(dir));
    return { totalMs: compileTotal, edges: g.edges };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `mesh build` as a user runs it, in a fresh process: lint, compile, validate
 * every node, write out/ (a new folder) atomically. No target: writing 60,000
 * files is mostly the disk's time, which this shared machine does not keep
 * steady (see docs/bench.md).
 */
function buildCli(dir: string): Record<string, string | number> {
  const out = path.join(dir, 'out-cli');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'mesh.js'), 'build', dir, '--out', out], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ms = Math.round(Number(process.hrtime.bigint() - t0) / 1e6);
  if (r.status !== 0) throw new Error(`mesh build failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const written = /wrote (\d+) files/.exec(r.stdout + r.stderr)?.[1] ?? '?';
  return { cli_ms: ms, files_written: written, includes: 'lint+compile+validate+write' };
}

export async function run(): Promise<void> {
  const small = await one(1000);
  global.gc?.();
  const large = await one(10_000);
  report('compile-scaling', {
    ratio_10k_over_1k: (large.totalMs / small.totalMs).toFixed(2),
    edges_ratio: (large.edges / small.edges).toFixed(2),
    target_10k_ms: '< 10000',
    met: large.totalMs < 10_000 ? 'yes' : 'MISSED',
  });
}

if (require.main === module) void run();
