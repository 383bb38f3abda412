/**
 * Bench: `mesh build` of a generated 10,000-service mesh (bench/gen-mesh.ts)
 * with the build cache (src/cache), as a user runs it, each in a fresh
 * process, end to end (lint, keys, compile or cache, validate, write):
 *   - cold: no cache folder, no out/;
 *   - warm: the same sources again (every node from the cache, out/ replaced);
 *   - check: `--check` after a one-line change (one endpoint address of one
 *     manifest; that node and its callers are rendered), exit 1 expected;
 *   - changed: the build that writes that change.
 * Targets (issue 20 item 4): a build under 12 s end to end, `--check` after
 * a one-line change under 1.5 s.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PACKAGE_ROOT } from '../src/paths';
import { generateMesh } from './gen-mesh';
import { report } from './measure';

const SERVICES = 10_000;
const BUILD_TARGET_MS = 12_000;
const CHECK_TARGET_MS = 1_500;

function mesh(args: string[], expect: number): { ms: number; summary: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'mesh.js'), ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const ms = Math.round(Number(process.hrtime.bigint() - t0) / 1e6);
  if (r.status !== expect) throw new Error(`mesh ${args.join(' ')} exited ${r.status}, not ${expect}: ${(r.stdout + r.stderr).slice(-2000)}`);
  const summary = r.stderr.trim().split('\n').pop() ?? '';
  return { ms, summary };
}

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-bench-build-'));
  try {
    const meshDir = path.join(dir, 'mesh');
    generateMesh(meshDir, SERVICES);
    const out = path.join(dir, 'out');
    const fromCache = (s: string): string => /(\d+) from the build cache/.exec(s)?.[1] ?? '0';
    const met = (ms: number, target: number): string => (ms < target ? 'met' : 'MISSED');
    const cold = mesh(['build', meshDir, '--out', out], 0);
    report(`build-${SERVICES}-cold`, { cli_ms: cold.ms, from_cache: fromCache(cold.summary), target_ms: `< ${BUILD_TARGET_MS}`, met: met(cold.ms, BUILD_TARGET_MS) });
    const warm = mesh(['build', meshDir, '--out', out], 0);
    report(`build-${SERVICES}-warm`, { cli_ms: warm.ms, from_cache: fromCache(warm.summary), target_ms: `< ${BUILD_TARGET_MS}`, met: met(warm.ms, BUILD_TARGET_MS) });
    // One line: svc-00005's endpoint address (unique in the mesh, so the mesh still lints).
    const file = path.join(meshDir, 'services', 'svc-00005.yml');
    const text = fs.readFileSync(file, 'utf8');
    if (!text.includes('address: 10.0.0.5\n')) throw new Error('bench mesh changed shape: no endpoint line to edit in svc-00005.yml');
    fs.writeFileSync(file, text.replace('address: 10.0.0.5\n', 'address: 10.0.99.5\n'));
    const check = mesh(['build', meshDir, '--out', out, '--check'], 1);
    report(`build-${SERVICES}-check-one-line`, { cli_ms: check.ms, target_ms: `< ${CHECK_TARGET_MS}`, met: met(check.ms, CHECK_TARGET_MS) });
    const changed = mesh(['build', meshDir, '--out', out], 0);
    report(`build-${SERVICES}-one-line`, { cli_ms: changed.ms, from_cache: fromCache(changed.summary), target_ms: `< ${BUILD_TARGET_MS}`, met: met(changed.ms, BUILD_TARGET_MS) });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) void run();
