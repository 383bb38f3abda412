/**
 * The agreement corpus: small random meshes (bench/gen-mesh.ts, seeded),
 * compiled in process, each Envoy node's resources one valid configuration,
 * and the same resources with one fault (faults.ts) injected into one
 * resource. Deterministic: the same seeds give the same corpus.
 */
import * as path from 'node:path';
import { generateMesh } from '../../bench/gen-mesh';
import { compileMesh } from '../../src/envoy';
import type { NodeResources } from '../../src/envoy/resources';
import { lintMesh } from '../../src/lint';
import { FAULTS, type Fault, type Resources } from './faults';

export interface CorpusEntry {
  /** `<mesh>/<node>` plus the fault, for messages. */
  readonly id: string;
  readonly node: string;
  /** Undefined for a valid configuration. */
  readonly fault?: Fault;
  readonly resources: NodeResources;
}

export interface CorpusOptions {
  /** Meshes generated, seeds 1..meshes; sizes cycle through 3..10 services. */
  readonly meshes: number;
  /** Valid configurations taken from each mesh (its first Envoy nodes). */
  readonly validPerMesh: number;
  /** Configurations per fault, each on another node (of another mesh where possible). */
  readonly perFault: number;
}

interface CompiledNode {
  readonly id: string;
  readonly resources: NodeResources;
}

function compiledNodes(workDir: string, seed: number): CompiledNode[] {
  const dir = path.join(workDir, `mesh-${seed}`);
  const services = 3 + ((seed - 1) % 8);
  generateMesh(dir, services, 2 + (seed % 2), seed);
  const { model, diagnostics } = lintMesh(dir);
  if (!model) throw new Error(`generated mesh ${seed} does not load: ${diagnostics.map((d) => d.message).join('; ')}`);
  const compiled = compileMesh(model, { bootstraps: false });
  if (compiled.diagnostics.some((d) => d.severity === 'error')) throw new Error(`generated mesh ${seed} does not compile`);
  return compiled.nodes.filter((n) => n.kind === 'envoy').map((n) => ({ id: `mesh-${seed}/${n.id}`, resources: n.resources }));
}

export function buildCorpus(workDir: string, opts: CorpusOptions): CorpusEntry[] {
  const meshes = Array.from({ length: opts.meshes }, (_, i) => compiledNodes(workDir, i + 1));
  const out: CorpusEntry[] = [];
  for (const nodes of meshes) for (const n of nodes.slice(0, opts.validPerMesh)) out.push({ id: n.id, node: nodeName(n), resources: n.resources });
  // Round robin over meshes, so each fault lands in several meshes and node roles.
  const pool: CompiledNode[] = [];
  for (let i = 0; meshes.some((m) => i < m.length); i++) for (const m of meshes) if (i < m.length) pool.push(m[i]!);
  // Each fault walks the pool from its own start with a stride coprime to its length: every node once, spread out.
  const stride = coprimeStride(pool.length);
  FAULTS.forEach((fault, f) => {
    let taken = 0;
    for (let k = 0; k < pool.length && taken < opts.perFault; k++) {
      const n = pool[(f * 7 + k * stride) % pool.length]!;
      const copy = structuredClone(n.resources) as Resources;
      if (!fault.inject(copy)) continue;
      out.push({ id: `${n.id} + ${fault.code} ${fault.name}`, node: nodeName(n), fault, resources: copy });
      taken++;
    }
    if (taken < opts.perFault) throw new Error(`fault "${fault.name}" fits only ${taken} of ${pool.length} nodes`);
  });
  return out;
}

function coprimeStride(n: number): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  let s = 11;
  while (gcd(s, n) !== 1) s++;
  return s;
}

const nodeName = (n: CompiledNode): string => n.id.split('/')[1]!;
