/**
 * `mesh diff` as a library: two mesh directories (or git revisions of one)
 * -> MeshDiff. Each side is linted and compiled exactly as `mesh build` does.
 */
import type { Diagnostic } from '../../diag/diagnostic';
import { UserError } from '../../diag/errors';
import { loadForReview } from '../load';
import { diffMeshes, type DiffSide, type MeshDiff } from './mesh-diff';
import { materializeRevision } from './revisions';

export { diffMeshes, type MeshDiff, type NodeDiff, type ResourceChange, type FieldChange, type Cause } from './mesh-diff';
export { formatDiff, DIFF_FORMATS, type DiffFormat } from './format';
export { diffJson, formatPath, type JsonChange, type PathSeg } from './json-diff';
export { materializeRevision } from './revisions';

export interface SideSource {
  /** Where the files are; absent when the side has no mesh (a revision before the mesh existed). */
  readonly dir?: string;
  /** How positions name the directory (the user's spelling, the same for both revisions of one dir). */
  readonly displayDir: string;
  readonly label: string;
}

export type DiffOutcome =
  | { readonly ok: true; readonly diff: MeshDiff }
  | { readonly ok: false; readonly label: string; readonly diagnostics: readonly Diagnostic[] };

export function diffSources(a: SideSource, b: SideSource): DiffOutcome {
  const sides: DiffSide[] = [];
  for (const s of [a, b]) {
    if (s.dir === undefined) {
      sides.push({ label: s.label });
      continue;
    }
    const loaded = loadForReview(s.dir, { displayDir: s.displayDir });
    if (!loaded.ok) return { ok: false, label: s.label, diagnostics: loaded.diagnostics };
    sides.push({ label: s.label, input: loaded.input });
  }
  return { ok: true, diff: diffMeshes(sides[0], sides[1]) };
}

/** Both revisions of `meshDir` (relative to `cwd`), diffed; temp copies are removed before returning. */
export function diffRevisions(revA: string, revB: string, meshDir: string, cwd = process.cwd()): DiffOutcome {
  const a = materializeRevision(revA, meshDir, cwd);
  try {
    const b = materializeRevision(revB, meshDir, cwd);
    try {
      if (!a.dir && !b.dir) throw new UserError('MESH110', `${meshDir} exists at neither ${a.label} nor ${b.label}`);
      return diffSources({ dir: a.dir, displayDir: meshDir, label: a.label }, { dir: b.dir, displayDir: meshDir, label: b.label });
    } finally {
      b.cleanup();
    }
  } finally {
    a.cleanup();
  }
}
