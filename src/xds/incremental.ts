/**
 * What an incremental apply (src/xds/control-plane.ts, src/model/dependencies.ts)
 * puts together: the installed compile it is incremental against, and the
 * compile result of the recomputed nodes merged with the kept ones.
 */
import type { CompileResult, NodeOutput } from '../envoy/compile';
import type { DependencyIndex } from '../model/dependencies';

export interface InstalledCompile {
  readonly index: DependencyIndex;
  readonly nodes: ReadonlyMap<string, NodeOutput>;
}

const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The recomputed nodes and the kept ones as one CompileResult, sorted by id as compileMesh's. */
export function mergeCompiled(fresh: CompileResult, kept: readonly NodeOutput[]): CompileResult {
  const nodes = [...fresh.nodes, ...kept].sort(byId);
  return { nodes, diagnostics: fresh.diagnostics, ir: { ...fresh.ir, nodes: nodes.map((n) => n.ir) } };
}
