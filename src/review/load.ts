/**
 * What every review tool starts from: a mesh directory, linted and compiled
 * exactly as `mesh build` would (load -> model -> IR -> Envoy). The tools
 * only read the result; nothing here changes what the compiler produces.
 */
import * as path from 'node:path';
import { hasErrors, type Diagnostic } from '../diag/diagnostic';
import { compileMesh, type CompileResult } from '../envoy';
import { lintMesh } from '../lint';
import type { MeshModel } from '../model/types';
import { SourceLines } from './source-lines';

export interface ReviewInput {
  readonly model: MeshModel;
  readonly compiled: CompileResult;
  /** Lint and compile diagnostics (warnings, or errors when `unchecked`). */
  readonly diagnostics: readonly Diagnostic[];
  readonly lines: SourceLines;
  /** The model has semantic errors (only with `allowSemanticErrors`): a picture of what is wrong, not a servable config. */
  readonly unchecked: boolean;
}

export type ReviewLoad =
  | { readonly ok: true; readonly input: ReviewInput }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

export interface ReviewLoadOptions {
  /** How positions name the directory (default: `dir` as given). */
  readonly displayDir?: string;
  /**
   * Accept schema-valid meshes whose semantic checks fail (denied calls,
   * unknown callees): `mesh graph` draws what is wrong. The compiler skips
   * such edges, so the compiled view shows what the data plane would do.
   */
  readonly allowSemanticErrors?: boolean;
}

export function loadForReview(dir: string, opts: ReviewLoadOptions = {}): ReviewLoad {
  const displayDir = opts.displayDir ?? dir;
  const linted = lintMesh(dir, { displayDir });
  const model = linted.model ?? (opts.allowSemanticErrors ? linted.uncheckedModel : undefined);
  if (!model) return { ok: false, diagnostics: linted.diagnostics };
  const compiled = compileMesh(model);
  const diagnostics = [...linted.diagnostics, ...compiled.diagnostics];
  // A template that renders no bootstrap (MESH080) would show up as a removed file: refuse instead.
  if (hasErrors(compiled.diagnostics)) return { ok: false, diagnostics };
  const lines = new SourceLines(path.resolve(dir), displayDir);
  return { ok: true, input: { model, compiled, diagnostics, lines, unchecked: !linted.model } };
}
