/**
 * `mesh lint` as a library: load + check, plus the warnings that need the
 * compiler's view (policies proxyless gRPC cannot enforce, MESH070), plus the
 * certificate rotation checks when the mesh has a PKI store (MESH100-104).
 * Kept here rather than in src/config so the loader never depends on
 * translation or on the PKI.
 */
import { loadMeshSync, type LoadOptions, type LoadResult } from '../config/load';
import { diagAt, sortDiagnostics } from '../diag/diagnostic';
import { grpcPolicyGaps } from '../translate';

export interface LintOptions extends LoadOptions {
  /**
   * Also check the mesh's PKI store for rotation problems (MESH100-104). Only
   * `mesh lint` asks: the store is local runtime state, and `build`, `apply`
   * and `serve` must not succeed or fail depending on what one machine holds.
   */
  readonly checkPki?: boolean;
  /** Clock for the rotation checks (tests). Default: now. */
  readonly now?: Date;
}

export function lintMesh(dir: string, opts: LintOptions = {}): LoadResult {
  const loaded = loadMeshSync(dir, opts);
  if (!loaded.model) return loaded;
  const gaps = grpcPolicyGaps(loaded.model).map((g) =>
    diagAt(g.pos, 'warning', 'MESH070', `${g.service} is a proxyless gRPC member and cannot enforce ${g.policy} for ${g.target}: ${g.reason} (gRFC ${g.proposal})`, { path: g.policy }),
  );
  // Loaded on demand: the PKI code pulls in node-forge, which every other lint run can skip.
  const rotation = opts.checkPki
    ? (require('../review/rotation') as typeof import('../review/rotation')).rotationLint(loaded.model, opts.now ? { now: opts.now } : {})
    : [];
  return { ...loaded, diagnostics: sortDiagnostics([...loaded.diagnostics, ...gaps, ...rotation]) };
}
