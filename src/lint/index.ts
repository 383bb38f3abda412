/**
 * `mesh lint` as a library: load + check, plus the warnings that need the
 * compiler's view (policies proxyless gRPC cannot enforce, MESH070), plus the
 * certificate rotation checks when the mesh has a PKI store (MESH100-104).
 * Kept here rather than in src/config so the loader never depends on
 * translation or on the PKI.
 */
import { loadMeshSteps, type LoadOptions, type LoadResult } from '../config/load';
import { diagAt, sortDiagnostics } from '../diag/diagnostic';
import { gapSummary, grpcPolicyGapsSteps } from '../translate';
import { runSync, type Steps } from '../util/sliced';
import { applyAcknowledgements } from './acknowledge';
import type { GapCache } from './gap-cache';

export interface LintOptions extends LoadOptions {
  /**
   * Also check the mesh's PKI store for rotation problems (MESH100-104). Only
   * `mesh lint` asks: the store is local runtime state, and `build`, `apply`
   * and `serve` must not succeed or fail depending on what one machine holds.
   */
  readonly checkPki?: boolean;
  /** Clock for the rotation checks (tests). Default: now. */
  readonly now?: Date;
  /** MESH070 gaps of unchanged nodes from earlier lints (the control plane's applies). */
  readonly gapCache?: GapCache;
}

export function lintMesh(dir: string, opts: LintOptions = {}): LoadResult {
  return runSync(lintMeshSteps(dir, opts));
}

/** lintMesh as steps (src/util/sliced.ts), yielding between files, rules and nodes: the control plane's sliced apply. */
export function* lintMeshSteps(dir: string, opts: LintOptions = {}): Steps<LoadResult> {
  const loaded = yield* loadMeshSteps(dir, opts);
  if (!loaded.model) return loaded;
  const model = loaded.model;
  const fileOf = new Map(model.services.map((s) => [s.name, s.file]));
  const gaps = (yield* grpcPolicyGapsSteps(model, opts.gapCache?.forModel(model))).map((g) =>
    diagAt(g.pos, 'warning', 'MESH070', `${g.service} is a proxyless gRPC member and ${gapSummary(g)}`, {
      // The key the position is on: the gap's own setting, or `protocol` for the mTLS gap pointed at the manifest.
      path: g.subject !== undefined ? 'protocol' : g.policy,
      hint: `once reviewed, acknowledge it in ${fileOf.get(g.service)}: acknowledge: [MESH070] (docs/policy-language.md)`,
      subject: g.service,
    }),
  );
  // Loaded on demand: the PKI code pulls in node-forge, which every other lint run can skip.
  const rotation = opts.checkPki
    ? (require('../review/rotation') as typeof import('../review/rotation')).rotationLint(model, opts.now ? { now: opts.now } : {})
    : [];
  return { ...loaded, diagnostics: sortDiagnostics([...applyAcknowledgements(model, [...loaded.diagnostics, ...gaps]), ...rotation]) };
}
