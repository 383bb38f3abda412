/**
 * `mesh lint` as a library: load + check, plus the warnings that need the
 * compiler's view (policies proxyless gRPC cannot enforce, MESH070). Kept
 * here rather than in src/config so the loader never depends on translation.
 */
import { loadMeshSync, type LoadOptions, type LoadResult } from '../config/load';
import { diagAt, sortDiagnostics } from '../diag/diagnostic';
import { grpcPolicyGaps } from '../translate';

export function lintMesh(dir: string, opts: LoadOptions = {}): LoadResult {
  const loaded = loadMeshSync(dir, opts);
  if (!loaded.model) return loaded;
  const gaps = grpcPolicyGaps(loaded.model).map((g) =>
    diagAt(g.pos, 'warning', 'MESH070', `${g.service} is a proxyless gRPC member and cannot enforce ${g.policy} for ${g.target}: ${g.reason} (gRFC ${g.proposal})`, { path: g.policy }),
  );
  return { ...loaded, diagnostics: sortDiagnostics([...loaded.diagnostics, ...gaps]) };
}
