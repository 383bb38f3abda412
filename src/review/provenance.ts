/**
 * Provenance as the review tools print it. Positions in the IR carry the mesh
 * directory as the user named it (`examples/ceq/mesh_policies.yml`); files
 * written beside the build output use paths relative to the mesh directory
 * instead, so `mesh build ./examples/ceq` and `mesh build examples/ceq` write
 * the same bytes (the rule src/translate `sourcesOf` follows).
 */
import * as path from 'node:path';
import type { SourcePos } from '../diag/diagnostic';
import type { Provenance } from '../model/types';

/** Provenance as plain JSON: what `--format json` and explain.json carry. */
export interface ProvenanceJson {
  readonly kind: Provenance['kind'];
  readonly file?: string;
  readonly line?: number;
  readonly col?: number;
}

export function provenanceJson(from: Provenance, relativeTo?: string): ProvenanceJson {
  if (from.kind === 'builtin') return { kind: 'builtin' };
  const file = relativeTo === undefined ? from.pos.file : relativePath(relativeTo, from.pos.file);
  return { kind: from.kind, file, line: from.pos.line, col: from.pos.col };
}

/** `mesh_policies.yml:12:5`, `defaults: mesh_policies.yml:40:5`, or `builtin default`. */
export function formatProvenance(from: Provenance | ProvenanceJson): string {
  if (from.kind === 'builtin') return 'builtin default';
  const p: ProvenanceJson = 'pos' in from ? provenanceJson(from) : from;
  const at = `${p.file}:${p.line}:${p.col}`;
  return from.kind === 'mesh-default' ? `mesh default (${at})` : at;
}

export function fileProvenance(pos: SourcePos): Provenance {
  return { kind: 'file', pos };
}

/** Two provenances point at the same place (or are both builtin). */
export function sameProvenance(a: Provenance, b: Provenance): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'builtin' || b.kind === 'builtin') return true;
  return a.pos.file === b.pos.file && a.pos.line === b.pos.line && a.pos.col === b.pos.col;
}

/** '/'-separated path of `file` relative to `dir` (both as the user named them). */
export function relativePath(dir: string, file: string): string {
  return path.relative(dir, file).split(path.sep).join('/');
}
