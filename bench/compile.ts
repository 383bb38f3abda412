/**
 * Bench: compile generated meshes of 1,000 and 10,000 services (~5 calls
 * each): lint+model, translate+render, out/ tree, and validation against the
 * Envoy protos, each timed; peak memory and bytes per node. Target: 10,000
 * services under 10 s, time linear in call edges (the 10k/1k ratio near 10).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildOutputTree, compileMesh } from '../src/envoy';
import { lintMesh } from '../src/lint';
import { validateCompiled } from '../src/output/validate-output';
import { generateMesh } from './gen-mesh';
import { measure, report } from './measure';

async function one(n: number): Promise<{ totalMs: number; edges: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hms-bench-compile-${n}-`));
  try {
    const g = generateMesh(dir, n);
    const load = await measure(() => lintMesh(dir));
    if (!load.value.model) throw new Error(`bench mesh does not lint: ${load.value.diagnostics[0]?.message}`);
    const compile = await measure(() => compileMesh(load.value.model!, { pkiDir: '/etc/hms/pki' }));
    const tree = await measure(() => buildOutputTree(compile.value));
    let bytes = 0;
    for (const text of tree.value.values()) bytes += Buffer.byteLength(text);
    const compileTotal = load.ms + compile.ms + tree.ms;
    report(`compile-${n}`, {
      services: n,
      call_edges: g.edges,
      lint_ms: load.ms,
      translate_render_ms: compile.ms,
      out_tree_ms: tree.ms,
      total_ms: compileTotal,
      files: tree.value.size,
      bytes_per_node: Math.round(bytes / compile.value.nodes.length),
      peak_rss_mb: Math.max(load.peakRssMb, compile.peakRssMb, tree.peakRssMb),
    });
    const validate = await measure(() => validateCompiled(compile.value));
    report(`validate-${n}`, { services: n, validate_ms: validate.ms, findings: validate.value.length, peak_rss_mb: validate.peakRssMb });
    return { totalMs: compileTotal, edges: g.edges };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
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
