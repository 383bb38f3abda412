/**
 * Generates a synthetic mesh of N services, each calling ~`fanout` others,
 * with access policies that allow exactly the declared callers, so it lints
 * clean and compiles. Deterministic (seeded) so runs are comparable.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export interface GeneratedMesh {
  readonly services: number;
  readonly edges: number;
}

export function generateMesh(dir: string, n: number, fanout = 5, seed = 42): GeneratedMesh {
  const rand = rng(seed);
  const name = (i: number): string => `svc-${String(i).padStart(5, '0')}`;
  fs.mkdirSync(path.join(dir, 'services'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'mesh.yml'), 'name: bench\ntrust_domain: bench.local\n');
  const callers = new Map<number, number[]>();
  let edges = 0;
  for (let i = 0; i < n; i++) {
    const targets = new Set<number>();
    while (targets.size < Math.min(fanout, n - 1)) {
      const t = Math.floor(rand() * n);
      if (t !== i) targets.add(t);
    }
    const sorted = [...targets].sort((a, b) => a - b);
    for (const t of sorted) callers.set(t, [...(callers.get(t) ?? []), i]);
    edges += sorted.length;
    const versions = i % 10 === 0 ? '\nversions: [v1, v2]' : '';
    fs.writeFileSync(
      path.join(dir, 'services', `${name(i)}.yml`),
      `name: ${name(i)}\nversion: v1${versions}\nprotocol: ${i % 7 === 0 ? 'grpc' : 'http'}\nport: ${10000 + i}\nmesh_port: ${20000 + i}\n` +
        `endpoints:\n  - address: 10.0.${Math.floor(i / 250)}.${i % 250}\n    port: ${20000 + i}\n` +
        `calls:\n${sorted.map((t) => `  - ${name(t)}\n`).join('')}`,
    );
  }
  const lines: string[] = ['circuit_breakers:'];
  for (let i = 0; i < n; i += 3) lines.push(`  ${name(i)}:\n    max_failures: 3\n    reset_seconds: 30`);
  lines.push('retries:');
  for (let i = 0; i < n; i += 4) lines.push(`  ${name(i)}:\n    attempts: 2\n    per_try_timeout: 250ms\n    retry_on: [connect-failure, unavailable]`);
  lines.push('timeouts:');
  for (let i = 0; i < n; i += 5) lines.push(`  ${name(i)}:\n    request: 2s`);
  lines.push('traffic:');
  for (let i = 0; i < n; i += 10) lines.push(`  ${name(i)}:\n    split:\n      v1: 90\n      v2: 10`);
  lines.push('access:');
  for (let i = 0; i < n; i++) {
    const c = callers.get(i) ?? [];
    lines.push(`  ${name(i)}:\n    allow: [${c.map(name).join(', ')}]`);
  }
  fs.writeFileSync(path.join(dir, 'mesh_policies.yml'), lines.join('\n') + '\n');
  return { services: n, edges };
}
